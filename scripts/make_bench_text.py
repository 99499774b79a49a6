#!/usr/bin/env python3
"""Writes a deterministic ~10 MB mixed text for the tokenizer benchmarks (not committed: regenerate it).

Usage: python3 scripts/make_bench_text.py [OUT] [--mb 10]      (default OUT: /tmp/sabre_bench_text.txt)

The mix: ~60% English-like prose (Zipf-distributed common words, capitals, punctuation, numbers,
contractions), ~15% source code, ~15% other scripts (CJK, Cyrillic, Arabic, Devanagari, Thai, Korean...),
~10% emoji, markup and whitespace runs. Only the standard library is needed.
"""
import argparse
import random

WORDS = """the of and to a in is it you that he was for on are with as I his they be at one have this from
or had by hot word but what some we can out other were all there when up use your how said an each she which
do their time if will way about many then them write would like so these her long make thing see him two has
look more day could go come did number sound no most people my over know water than call first who may down
side been now find any new work part take get place made live where after back little only round man year
came show every good me give our under name very through just form sentence great think say help low line
differ turn cause much mean before move right boy old too same tell does set three want air well also play
small end put home read hand port large spell add even land here must big high such follow act why ask men
change went light kind off need house picture try us again animal point mother world near build self earth
father head stand own page should country found answer school grow study still learn plant cover food sun
four between state keep eye never last let thought city tree cross farm hard start might story saw far sea
draw left late run while press close night real life few north open seem together next white children begin
got walk example ease paper group always music those both mark often letter until mile river car feet care
second book carry took science eat room friend began idea fish mountain stop once base hear horse cut sure
watch color face wood main enough plain girl usual young ready above ever red list though feel talk bird soon
body dog family direct pose leave song measure door product black short numeral class wind question happen
complete ship area half rock order fire south problem piece told knew pass since top whole king space heard
best hour better true during hundred five remember step early hold west ground interest reach fast verb sing
listen six table travel less morning ten simple several vowel toward war lay against pattern slow center love
person money serve appear road map rain rule govern pull cold notice voice unit power town fine certain fly
fall lead cry dark machine note wait plan figure star box noun field rest correct able pound done beauty drive
stood contain front teach week final gave green oh quick develop ocean warm free minute strong special mind
behind clear tail produce fact street inch multiply nothing course stay wheel full force blue object decide
surface deep moon island foot system busy test record boat common gold possible plane stead dry wonder laugh
thousand ago ran check game shape equate miss brought heat snow tire bring yes distant fill east paint
language among grand ball yet wave drop heart present heavy dance engine position arm wide sail material size
vary settle speak weight general ice matter circle pair include divide syllable felt perhaps pick sudden count
square reason length represent art subject region energy hunt probable bed brother egg ride cell believe
fraction forest sit race window store summer train sleep prove lone leg exercise wall catch mount wish sky
board joy winter sat written wild instrument kept glass grass cow job edge sign visit past soft fun bright gas
weather month million bear finish happy hope flower clothe strange gone jump baby eight village meet root buy
raise solve metal whether push seven paragraph third shall held hair describe cook floor either result burn
hill safe cat century consider type law bit coast copy phrase silent tall sand soil roll temperature finger
industry value fight lie beat excite natural view sense ear else quite broke case middle kill son lake moment
scale loud spring observe child straight consonant nation dictionary milk speed method organ pay age section
dress cloud surprise quiet stone tiny climb cool design poor lot experiment bottom key iron single stick flat
twenty skin smile crease hole trade melody trip office receive row mouth exact symbol die least trouble shout
except wrote seed tone join suggest clean break lady yard rise bad blow oil blood touch grew cent mix team wire
cost lost brown wear garden equal sent choose fell fit flow fair bank collect save control decimal gentle woman
captain practice separate difficult doctor please protect noon whose locate ring character insect caught period
indicate radio spoke atom human history effect electric expect crop modern element hit student corner party
supply bone rail imagine provide agree thus capital won't chair danger fruit rich thick soldier process operate
guess necessary sharp wing create neighbor wash bat rather crowd corn compare poem string bell depend meat rub
tube famous dollar stream fear sight thin triangle planet hurry chief colony clock mine tie enter major fresh
search send yellow gun allow print dead spot desert suit current lift rose continue block chart hat sell
success company subtract event particular deal swim term opposite wife shoe shoulder spread arrange camp
invent cotton born determine quart nine truck noise level chance gather shop stretch throw shine property
column molecule select wrong gray repeat require broad prepare salt nose plural anger claim continent oxygen
sugar death pretty skill women season solution magnet silver thank branch match suffix especially fig afraid
huge sister steel discuss forward similar guide experience score apple bought led pitch coat mass card band
rope slip win dream evening condition feed tool total basic smell valley nor double seat arrive master track
parent shore division sheet substance favor connect post spend chord fat glad original share station dad bread
charge proper bar offer segment slave duck instant market degree populate chick dear enemy reply drink occur
support speech nature range steam motion path liquid log meant quotient teeth shell neck don't can't it's
we'll they're I'm you've she'd""".split()

SCRIPTS = [
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从",
    "東京大阪京都日本語のひらがなカタカナ漢字がありますはでをにと",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЭЮЯ",
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह्ािीुूेैोौंः",
    "กขฃคฅฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮะัาำิีึืุู่้๊๋",
    "가각간갇갈감갑값갓강개객거건걸검겁것게겨격견결겸경계고곡곤골곰공과관광괴교구국군굴궁권귀규균그극근글금급기긴길김까꼬나날남내너네노높누눈느는늘니다단달담답당대더도독돌동두뒤드들등디따때또뜻라람랑래러런럼레려력련렬령로록론롤료루류르른를름릇리린림립마만많말맛망매머먹면명모목몸못무문물뭐미민밀바박반받발밤방배백버번벌범법벽변별병보복본볼봄부북분불비빛사산살삼상새색생서석선설성세소속손송수숙순술숨쉬스슬습시식신실심십싸쓰씨아악안앉알암압앞애야약양어억언얼엄업없엇에여역연열염엽영예오옥온올옷와완왕외요욕용우운울움웃원월위유육윤은을음응의이인일임입있자작잔잘잠장재저적전절점접정제조족존졸종좋좌주죽준줄중즐즘증지직진질집짓짜째쪽찾채책처천철첫청체초촌총최추축출충취치친칠침칭카커코쾌크큰키타탁탄탈탐탑태택터토통투트특틀티파판팔패퍼편평폐포표품풍프피필하학한할함합항해핵행향허험헤혀현혈협형호혹혼홍화확환활황회획효후훈훨휴흐흑흔흘흙흥희흰히힘",
    "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩάέήίόύώ",
    "אבגדהוזחטיכלמנסעפצקרשת",
]
EMOJI = ["😀", "😂", "👍", "🏽", "❤️", "🎉", "🔥", "🚀", "👨‍👩‍👧", "🇯🇵", "🤔", "✨", "🙏", "💯", "🐍"]
CODE_TEMPLATES = [
    "def {f}({a}, {b}):\n    \"\"\"{doc}\"\"\"\n    if {a} > {n}:\n        return {a} * {b}\n    return [{a} + i for i in range({n})]\n\n",
    "for (int {a} = 0; {a} < {n}; ++{a}) {{\n\t{b}[{a}] = {f}({a}, {n});\n}}\n",
    "const {f} = async ({a}, {b}) => {{\n  const res = await fetch(`/api/{a}?id=${{{b}}}`);\n  return res.json();\n}};\n",
    "SELECT {a}, {b}, COUNT(*) AS n FROM {f} WHERE {a} >= {n} GROUP BY {a}, {b} ORDER BY n DESC;\n",
    "<div class=\"{a}\" id=\"{b}-{n}\">\n  <span>{doc}</span>\n</div>\n",
    "fn {f}({a}: &str, {b}: usize) -> Result<Vec<u8>, Error> {{\n    let mut out = Vec::with_capacity({n});\n    Ok(out)\n}}\n",
    "{{\"{a}\": {n}, \"{b}\": [\"{doc}\", null, true, {n}.5]}}\n",
]


def zipf_words(rng, n):
    weights = [1.0 / (rank + 1) for rank in range(len(WORDS))]
    return rng.choices(WORDS, weights=weights, k=n)


def prose(rng):
    words = zipf_words(rng, rng.randint(8, 30))
    words[0] = words[0].capitalize()
    for i in range(1, len(words)):
        r = rng.random()
        if r < 0.03:
            words[i] = words[i].upper()
        elif r < 0.08:
            words[i] = words[i].capitalize()
        elif r < 0.11:
            words[i] = str(rng.randint(0, 10 ** rng.randint(1, 7)))
        elif r < 0.16:
            words[i] += rng.choice([",", ";", ":", " -", "'s"])
    return " ".join(words) + rng.choice([".", ".", ".", "!", "?", "..."]) + rng.choice([" ", " ", "\n", "\n\n"])


def code(rng):
    ident = lambda: "_".join(zipf_words(rng, rng.randint(1, 3)))
    return rng.choice(CODE_TEMPLATES).format(f=ident(), a=ident(), b=ident(), n=rng.randint(1, 9999),
                                             doc=" ".join(zipf_words(rng, 6)))


def foreign(rng):
    alphabet = rng.choice(SCRIPTS)
    spaced = alphabet[0] not in "的東가"
    out = []
    for _ in range(rng.randint(3, 12)):
        out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(2, 9))))
    return (" " if spaced else "，").join(out) + rng.choice(["。", ".", "!", "\n"]) + " "


def misc(rng):
    r = rng.random()
    if r < 0.4:
        return " ".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 5))) + " "
    if r < 0.7:
        return rng.choice(["\n", "\t", "    ", "\r\n", "  \n\n", "\t\t"]) * rng.randint(1, 4)
    return rng.choice(["https://example.com/a/b?c=d&e=f ", "user@example.org ", "#hashtag @mention ",
                       "$1,234.56 ", "2024-05-06T07:08:09Z ", "«quoted» ", "“smart quotes” "])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default="/tmp/sabre_bench_text.txt")
    parser.add_argument("--mb", type=float, default=10.0)
    args = parser.parse_args()
    rng = random.Random(424242)
    target = int(args.mb * 1_000_000)
    parts = []
    size = 0
    while size < target:
        r = rng.random()
        piece = prose(rng) if r < 0.6 else code(rng) if r < 0.75 else foreign(rng) if r < 0.9 else misc(rng)
        parts.append(piece)
        size += len(piece.encode("utf-8"))
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        f.write("".join(parts))
    print(f"wrote {args.out}: {size} bytes")


if __name__ == "__main__":
    main()
