// ConnectionPool's keep-alive bookkeeping against a bare listening socket.

#include <utility>  // first: Boost 1.74's asio headers use std::exchange without including it

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <thread>

#include "http_stream_client.hpp"

using namespace sabre::loadtest;
namespace asio = boost::asio;
using asio::ip::tcp;

TEST_CASE("connection pool: a pooled connection the server closed is not handed out again", "[loadtest][pool]") {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ConnectionPool pool(io.get_executor(),
                      parse_http_url(fmt::format("http://127.0.0.1:{}", acceptor.local_endpoint().port())),
                      std::chrono::milliseconds(2000));
  bool reused_after_close = true, reused_while_open = false;
  std::exception_ptr failure;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await pool.check_reachable();  // one idle connection in the pool
        tcp::socket server_side = acceptor.accept();
        bool reused = false;
        auto open = co_await pool.acquire(reused);  // the server has not closed it: reused
        reused_while_open = reused;
        pool.release(std::move(open));
        server_side.close();  // the server drops the idle connection
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        auto next = co_await pool.acquire(reused);
        reused_after_close = reused;
      },
      [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
  REQUIRE(reused_while_open);
  REQUIRE_FALSE(reused_after_close);
  REQUIRE(pool.connections_opened() == 2);
}
