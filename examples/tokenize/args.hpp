#pragma once
// A small command-line parser shared by Sabre's example programs: `--name value`, `--name=value` and
// boolean `--flag`s, a generated --help text, and errors that name the offending argument.

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sabre::cli {

class ArgParser {
 public:
  ArgParser(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}

  void flag(const std::string& name, bool* target, const std::string& help) {
    add({name, "", help, false, [target](const std::string&) { *target = true; }, true});
  }
  void option(const std::string& name, std::string* target, const std::string& metavar, const std::string& help,
              bool required = false) {
    add({name, metavar, help, required, [target](const std::string& v) { *target = v; }, false});
  }
  void option(const std::string& name, int* target, const std::string& metavar, const std::string& help) {
    add({name, metavar, help, false,
         [target, name](const std::string& v) {
           size_t used = 0;
           int parsed = 0;
           try {
             parsed = std::stoi(v, &used);
           } catch (const std::exception&) {
             used = 0;
           }
           if (used != v.size() || v.empty()) throw std::invalid_argument(name + " expects an integer, got '" + v + "'");
           *target = parsed;
         },
         false});
  }
  // Free text appended to --help (e.g. the input and output formats).
  void epilog(std::string text) { epilog_ = std::move(text); }

  // Returns false when --help was asked for (the usage text is then in `usage()`); throws
  // std::invalid_argument for unknown options, missing values or missing required options.
  bool parse(int argc, char** argv) {
    std::map<std::string, bool> seen;
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") return false;
      std::string value;
      bool has_inline_value = false;
      if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline_value = true;
      }
      auto it = by_name_.find(arg);
      if (it == by_name_.end()) throw std::invalid_argument("unknown option '" + arg + "' (see --help)");
      const Spec& spec = specs_[it->second];
      if (spec.is_flag) {
        if (has_inline_value) throw std::invalid_argument(arg + " takes no value");
        spec.apply("");
      } else {
        if (!has_inline_value) {
          if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value (" + spec.metavar + ")");
          value = argv[++i];
        }
        spec.apply(value);
      }
      seen[arg] = true;
    }
    for (const auto& spec : specs_) {
      if (spec.required && !seen.count(spec.name)) throw std::invalid_argument("missing required option " + spec.name);
    }
    return true;
  }

  std::string usage() const {
    std::string out = "usage: " + program_;
    for (const auto& s : specs_) {
      std::string item = s.name + (s.metavar.empty() ? "" : " " + s.metavar);
      out += s.required ? " " + item : " [" + item + "]";
    }
    out += "\n\n" + summary_ + "\n\noptions:\n";
    for (const auto& s : specs_) {
      std::string left = "  " + s.name + (s.metavar.empty() ? "" : " " + s.metavar);
      if (left.size() < 28) left.resize(28, ' ');
      out += left + " " + s.help + "\n";
    }
    out += "  --help                     show this help\n";
    if (!epilog_.empty()) out += "\n" + epilog_ + "\n";
    return out;
  }

 private:
  struct Spec {
    std::string name;
    std::string metavar;
    std::string help;
    bool required;
    std::function<void(const std::string&)> apply;
    bool is_flag;
  };
  void add(Spec spec) {
    by_name_[spec.name] = specs_.size();
    specs_.push_back(std::move(spec));
  }

  std::string program_;
  std::string summary_;
  std::string epilog_;
  std::vector<Spec> specs_;
  std::map<std::string, size_t> by_name_;
};

}  // namespace sabre::cli
