#!/usr/bin/env python3
"""Record what transformers' slow RobertaTokenizer does on a few hundred seeded texts.

Writes tests/data/meter/tokenizer_generated.json, the oracle of tests/tst_bpe_tokenizer.cpp beyond
the 23 hand-picked fixture cases (tests/data/meter/tokenizer_cases.json). Everything recorded is
the output of the ORIGINAL reference code, run unmodified:

    transformers 4.44.0.dev0, models/roberta/tokenization_roberta.py (`RobertaTokenizer`, slow, pure
    Python), from the GitHub mirror johnnyboystar22/hugging-face at commit
    80b90e7b2f7466ffb1d9036986e0699880d34284; huggingface_hub v0.24.6 (import dependency only);
    the `regex` module of the interpreter (its \\p{L}, \\p{N} and \\s tables are recorded too).

Run it with Debian 12's own interpreter (python3-regex installed; python3-torch is not needed):

    REF=/path/with/transformers/src/and/hfhub/src \\
    REF_STUBS=/path/to/shared/refbench/stubs \\
        /usr/bin/python3 -W ignore tools/reference/gen_roberta_tokenizer_cases.py
    ... gen_roberta_tokenizer_cases.py --cpp-tables   # prints the pre-tokenizer class ranges as C++

`REF_STUBS` holds the stand-ins for the `tokenizers` / `safetensors` packages and the hub metadata
that transformers checks at import (shared/refbench/stubs); without the Rust `tokenizers` package
transformers falls back to its own `AddedToken`, which cannot be hashed and lacks `__setstate__`.
`patch_fallback_added_token` gives it the behaviour of `tokenizers.AddedToken` at runtime (hash and
equality on `.content`, `__setstate__` updating the given fields); the reference files are not edited.

The output is deterministic: the texts come from a seeded `random.Random` and the JSON is written in
a fixed order, so running the script twice gives the same bytes.
"""

import argparse
import json
import os
import random
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "tests", "data", "meter")
SEED = 20240901
TRANSFORMERS_COMMIT = "80b90e7b2f7466ffb1d9036986e0699880d34284"
VOCABS = {"tiny": "roberta_tiny", "realistic": "tokenizer_realistic"}
PATTERN_CLASSES = {"L": r"\p{L}+", "N": r"\p{N}+", "S": r"\s+"}


# --------------------------------------------------------------------------------------------
# The reference


def import_reference(ref, stubs):
    for path in (os.path.join(ref, "transformers", "src"), os.path.join(ref, "hfhub", "src"), stubs):
        if not os.path.isdir(path):
            sys.exit(f"missing {path}: set REF / REF_STUBS (see the docstring)")
        sys.path.insert(0, path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import transformers
    from transformers import tokenization_utils_base

    patch_fallback_added_token(tokenization_utils_base.AddedToken)
    from transformers.models.roberta.tokenization_roberta import RobertaTokenizer

    return transformers.__version__, RobertaTokenizer


def patch_fallback_added_token(cls):
    """Hash/eq on .content and __setstate__, as tokenizers.AddedToken has them (runtime only)."""
    if cls.__module__ != "transformers.tokenization_utils_base":
        return  # the real tokenizers.AddedToken: nothing to do

    def equal(self, other):
        if not isinstance(other, cls):
            return NotImplemented
        return self.content == other.content

    def set_state(self, state):
        self.__dict__.update(state)

    cls.__hash__ = lambda self: hash(self.content)
    cls.__eq__ = equal
    cls.__setstate__ = set_state


def load(tokenizer_class, vocab_path, merges_path):
    return tokenizer_class(vocab_path, merges_path)


def tokens_and_ids(tokenizer, text):
    return {"tokens": tokenizer.tokenize(text), "input_ids": tokenizer.encode(text, add_special_tokens=True)}


# --------------------------------------------------------------------------------------------
# Texts

WORDS = ("what color is the cat dog man woman table ball red green blue left right how many are there "
         "playing sitting holding phone bench car image picture next to on of in a an this that those "
         "antidisestablishmentarianism supercalifragilistic internationalization").split()
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Re", "'rE", "'VE", "'M", "'LL",
                "'Ll", "'D", "'x", "'", "''", "’s", "‘t"]
SCRIPTS = [
    "àéîõüçñøåæœß", "ÀÉÎÕÜÇÑØÅÆŒẞ", "e\u0301cole", "a\u0308\u0304", "n\u0303o", "q\u0307\u0323", "Z\u0335\u0336",
    "Ελληνικά", "ΑΒΓ αβγ ς", "Привет", "ЁЖЩ ёжщ", "Բարեւ", "გამარჯობა", "שָׁלוֹם", "مرحبا", "بالعالم",
    "नमस्ते", "दुनिया", "สวัสดีครับ", "வணக்கம்", "ሰላም", "你好世界", "日本語のテキスト", "カタカナ", "ひらがな",
    "ｶﾀｶﾅ", "안녕하세요", "\u1112\u1161\u11ab", "ᠮᠣᠩᠭᠣᠯ", "བོད་ཡིག", "ភាសាខ្មែរ", "ᏣᎳᎩ", "ᚠᚢᚦ", "𐌰𐌱𐌲",
    "𝐀𝐁𝐂", "𝔘𝔫𝔦", "\U0001E030\U0001E031", "\U00031350\U00031351", "\U00011F04\U00011F05", "ǅǈǋ", "ʰʲˠ",
    "ﬁﬂ", "Ⓐⓑ", "ꙮ", "Ｆｕｌｌ", "ｗｉｄｔｈ",
]
NUMBERS = ["0", "7", "42", "0123456789", "3.14159", "1,000,000", "2nd", "3rd", "½", "¾⅓", "Ⅻ", "ⅻⅰ", "²³¹", "x²",
           "①②③", "٠١٢٣", "۴۵۶", "१२३", "১২৩", "１２３", "𝟎𝟏𝟐", "𝟘𝟙", "\U00011F50\U00011F51", "〇", "五",
           "99999999999999999999", "1e10", "0x1F", "-5", "+3", "10%", "$5", "€10", "£3.50"]
EMOJI = ["🙂", "👍", "👍🏽", "👍🏿", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "🇯🇵🇫🇷", "1️⃣", "#️⃣", "❤️", "❤", "☺︎", "🧑🏿‍🚀",
         "👩🏻‍❤️‍💋‍👨🏼", "😀😃😄", "🫠", "🫨", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "✨", "©", "™", "♀️", "🐈‍⬛"]
PUNCTUATION = ["!", "!!!", "?!?!", "...", "…", "—", "–", "-", "«»", "„“”", "¿¡", "、。", "「」", "@#$%^&*()", "[]",
               "{}", "<>", "\\|/", "~`", "+-=", "§¶†‡", "•·", "'", "\"", "(", ")", ",", ";", ":", "_", "__init__",
               "C++", "C#", "->", "=>", "//", "/*", "<<", ">>", "<", ">", "</", "/>"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\r\n", "\r", " \n", "\n ", "\n\n", " \t ", "\x0b", "\x0c", "\x85", "\xa0",
          "\u1680", "\u2000", "\u2007", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
          "\x1c", "\x1d", "\x1e", "\x1f", "\u180e", "\u200b", "\ufeff"]
CONTROLS = ["\x00", "\x01", "\x07", "\x1b[31m", "\x7f", "\x80", "\x9f", "\u00ad", "\u200c", "\u200d", "\u200e",
            "\u202e", "\u2060", "\ufffd", "\ufff9", "\U000e0001", "\ue000", "\U000f0000", "\uffff", "\U0010ffff",
            "\u0378", "\U0001fffe"]
SPECIALS = ["<s>", "</s>", "<pad>", "<unk>", "<mask>", "<MASK>", "<mask", "mask>", "< mask>", "<s", "s>", "<<s>>",
            "</s/>", "<mas", "<pa", "<unk >"]

HANDWRITTEN = [
    "", " ", "  ", "\t", "\n", "\r\n", " \n ", "a", " a", "a ", "  a", "a  ", "a  b", "a\tb", "a\t b", "a \tb",
    "a\n\nb", "a \n b", "a\u3000b", "a \u3000b", "a\u3000 b", "a\xa0b", "a \xa0 b", "a\x1cb", "a \x1c b", "\x1c",
    " \x1c", "\x85", "a\x85", "Hello world", " Hello world", "Hello  world ", "What color is the cat?",
    "don't", "DON'T", "I'm", "I'M", "you're", "YOU'RE", "we've", "We'Ve", "he'll", "HE'LL", "she'd", "It's",
    "IT'S", "it'S", "'s'", "''s", "'''", "rock'n'roll", "'twas", " 'tis", "y'all'd've", "'s's's", "x's", "X'S",
    "' s", " 's", "'s ", "a's", "4's", "é's", "’s", "'ll'll", "'lL", "'l", "'r", "'v",
    "<s>", "</s>", "<pad>", "<unk>", "<mask>", "<s></s>", "<s> </s>", "a <mask>", "a   <mask>", "a\t\n<mask>",
    "a\u3000<mask>", "a\x1c<mask>", "a\x85<mask>", "a\u200b<mask>", "a\xa0<mask>", "<mask> b", "<mask>  b",
    "<mask><mask>", "<mask> <mask>", "<mask>  <mask>", " <mask>", "   <mask>", "<s> <mask>", "<s>   <mask>",
    "<<s>>", "<</s>", "</s/>", "<mas", "<MASK>", "< mask>", "<mask", "mask>", "<s<s>", "<pad><unk>", "x<unk>y",
    "a </s>b", "the <mask> is red", "The capital of France is <mask>.", "<s>hello</s>", " <s> ", "\n<mask>\n",
    "antidisestablishmentarianism", "a" * 300, "ab" * 150, "antidisestablishmentarianism" * 12, "9" * 250,
    "!" * 200, " " * 120, "\n" * 40, "a " * 100, " a" * 100, "é" * 120, "👍🏽" * 40, "你" * 150,
    "e" + "\u0301" * 40, "\u0301" * 10, "Ab1!" * 50,
]


def random_case(rng, word):
    return "".join(c.upper() if rng.random() < 0.5 else c for c in word)


def random_fragment(rng):
    kind = rng.random()
    if kind < 0.30:
        word = rng.choice(WORDS)
        return random_case(rng, word) if rng.random() < 0.2 else word
    if kind < 0.40:
        return rng.choice(WORDS) + rng.choice(CONTRACTIONS)
    if kind < 0.52:
        return rng.choice(SCRIPTS)
    if kind < 0.62:
        return rng.choice(NUMBERS)
    if kind < 0.71:
        return rng.choice(EMOJI)
    if kind < 0.80:
        return rng.choice(PUNCTUATION)
    if kind < 0.86:
        return rng.choice(SPECIALS)
    if kind < 0.91:
        return rng.choice(CONTROLS)
    if kind < 0.95:
        return rng.choice(SPACES)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(15, 60)))


def random_separator(rng):
    r = rng.random()
    if r < 0.55:
        return " "
    if r < 0.70:
        return ""
    return rng.choice(SPACES)


def composed_texts(rng, count):
    texts = []
    for _ in range(count):
        parts = [random_fragment(rng) for _ in range(rng.randint(1, 10))]
        text = ""
        for i, part in enumerate(parts):
            text += (random_separator(rng) if i else "") + part
        if rng.random() < 0.15:
            text = rng.choice(SPACES) + text
        if rng.random() < 0.15:
            text += rng.choice(SPACES)
        texts.append(text)
    return texts


# Code points of every pre-tokenizer class and of the places where Python's and regex's notions
# of white space differ.
INTERESTING = [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C, 0x1C, 0x1F, 0x85, 0xA0, 0x1680, 0x180E, 0x2000, 0x200B, 0x2028,
               0x202F, 0x205F, 0x3000, 0xFEFF, 0x27, 0x3C, 0x3E, 0x41, 0x61, 0x30, 0x39, 0xB2, 0xBD, 0x2160, 0x301,
               0x903, 0x93F, 0x5D0, 0x627, 0x660, 0x4E00, 0x3042, 0xAC00, 0x1F600, 0x1F3FD, 0x200D, 0xFE0F, 0xE000,
               0xFFFD, 0x10FFFF, 0x1E030, 0x31350, 0x11F50]


def soup_texts(rng, count):
    texts = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randint(1, 24)):
            r = rng.random()
            if r < 0.45:
                cp = rng.choice(INTERESTING)
            elif r < 0.75:
                cp = rng.randint(0x20, 0x2FFF)
            else:
                cp = rng.randint(0x3000, 0x10FFFF)
            if 0xD800 <= cp < 0xE000:
                cp = 0xFFFD  # a lone surrogate cannot be encoded; the input is UTF-8
            chars.append(chr(cp))
        texts.append("".join(chars))
    return texts


INVALID_UTF8 = [b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xc2", b"\xc2a", b"\xe0\x80\x80", b"\xe0\xa0",
                b"\xe2\x82", b"a\xe2\x82", b"\xe2\x82a", b"\xed\xa0\x80", b"\xed\x9f\xbf", b"\xef\xbf\xbd",
                b"\xf0\x80\x80\x80", b"\xf0\x9f\x98", b"\xf0\x9f\x98 x", b"\xf0\x9f\x98\x80", b"\xf4\x8f\xbf\xbf",
                b"\xf4\x90\x80\x80", b"\xf5\x80", b"\xf8\x88\x80\x80\x80", b"\xff\xfe", b"\xfe\xff a",
                b"caf\xe9", b"na\xefve", b"<mask>\x80", b"\x80<mask>", b"a \x80<mask>", b" \xc3"]


def invalid_utf8_inputs(rng, count):
    out = list(INVALID_UTF8)
    pool = [w.encode() for w in WORDS[:10]] + [b" ", b"\t", b"'s", b"<s>", "é".encode(), "👍".encode()]
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.5:
                parts.append(rng.choice(pool))
            else:
                parts.append(bytes(rng.randint(0x80, 0xFF) if rng.random() < 0.8 else rng.randint(0, 0x7F)
                                   for _ in range(rng.randint(1, 4))))
        out.append(b"".join(parts))
    return out


# --------------------------------------------------------------------------------------------
# Variants of the tiny vocabulary's files, for the file-reading rules


def merges_variants(merges):
    lines = merges.split("\n")
    assert merges.endswith("\n") and lines[0].startswith("#version")
    rules = lines[1:-1]
    header = lines[0]
    body = "\n".join(rules)
    return [
        ("original", merges),
        ("no_trailing_newline", merges[:-1]),
        ("crlf", merges.replace("\n", "\r\n")),
        ("crlf_no_trailing_newline", merges.replace("\n", "\r\n")[:-2]),
        ("cr_only", merges.replace("\n", "\r")),
        ("blank_lines", header + "\n\n" + "\n\n".join(rules) + "\n\n"),
        ("extra_whitespace", header + "\n" + "\n".join("  " + r.replace(" ", " \t ") + " " for r in rules) + "\n"),
        ("no_header", body + "\n"),
        ("header_only", header + "\n"),
        ("empty", ""),
        ("bom", "\ufeff" + merges),
        ("duplicate_rule_moves_rank", merges + rules[1] + "\n"),
        ("unknown_symbols_and_results", header + "\nx y\nzz qq\n" + body + "\nxy z\n"),
        ("reversed", header + "\n" + "\n".join(reversed(rules)) + "\n"),
        # A rule ranked before the rule that makes its left symbol: every occurrence of the better pair
        # must be merged in the same round before the new pairs count.
        ("rule_before_its_parts", header + "\naa a\na a\n" + body + "\n"),
    ]


VARIANT_TEXTS = ["What color is the cat?", " staring caring aring", "the there three", "xyz xy zz qq",
                 " the thee ththe", "Where are the dogs playing?", "actually exactly", "cafés", "aaaa baaa aaaaa"]


def vocab_variants(vocab_text):
    vocab = json.loads(vocab_text)
    items = list(vocab.items())
    # Duplicate key: Python's json keeps the first position and the last value.
    dup = "{" + ", ".join(json.dumps(k) + ": " + json.dumps(v) for k, v in items) + ', "Ġthe": 5}'
    # Two tokens share an id: the decoder keeps the later one.
    shared = dict(vocab)
    shared["Ġcat"] = vocab["Ġthe"]
    return [("duplicate_key", dup), ("shared_id", json.dumps(shared, ensure_ascii=False))]


# --------------------------------------------------------------------------------------------


def unicode_classes():
    import regex

    everything = "".join(chr(c) for c in range(0x110000))
    out = {"regex_module_version": regex.__version__}
    for name, pattern in PATTERN_CLASSES.items():
        out[name] = [[m.start(), m.end() - 1] for m in regex.finditer(pattern, everything)]
    return out


def print_cpp_tables():
    classes = unicode_classes()
    for name, title in (("L", "kLetterRanges"), ("N", "kNumberRanges"), ("S", "kWhitespaceRanges")):
        ranges = classes[name]
        print(f"// {len(ranges)} ranges")
        print(f"constexpr CodePointRange {title}[] = {{")
        for i in range(0, len(ranges), 5):
            row = " ".join(f"{{0x{a:04X}, 0x{b:04X}}}," for a, b in ranges[i:i + 5])
            print("    " + row)
        print("};")


def write_json(path, doc):
    """One case per line: reviewable diffs, still plain JSON."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n")
        keys = list(doc)
        for ki, key in enumerate(keys):
            value = doc[key]
            f.write(json.dumps(key) + ": ")
            if isinstance(value, list) and value and isinstance(value[0], dict):
                f.write("[\n")
                for i, item in enumerate(value):
                    f.write("  " + json.dumps(item, ensure_ascii=False) + (",\n" if i + 1 < len(value) else "\n"))
                f.write("]")
            else:
                f.write(json.dumps(value, ensure_ascii=False))
            f.write(",\n" if ki + 1 < len(keys) else "\n")
        f.write("}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", default=os.environ.get("REF", ""), help="folder holding transformers/src and hfhub/src")
    parser.add_argument("--stubs", default=os.environ.get("REF_STUBS", os.path.join(ROOT, "..", "shared", "refbench", "stubs")))
    parser.add_argument("--out", default=os.path.join(DATA, "tokenizer_generated.json"))
    parser.add_argument("--cpp-tables", action="store_true", help="print the C++ class tables and exit")
    args = parser.parse_args()
    if args.cpp_tables:
        print_cpp_tables()
        return
    if not args.ref:
        sys.exit("set REF (or --ref) to the folder holding transformers/src and hfhub/src")

    version, RobertaTokenizer = import_reference(args.ref, os.path.abspath(args.stubs))
    files = {name: (os.path.join(DATA, folder, "vocab.json"), os.path.join(DATA, folder, "merges.txt"))
             for name, folder in VOCABS.items()}
    toks = {name: load(RobertaTokenizer, *paths) for name, paths in files.items()}
    rng = random.Random(SEED)

    texts = HANDWRITTEN + composed_texts(rng, 320) + soup_texts(rng, 40)
    cases = []
    for text in texts:
        case = {"text": text, "regex_pieces": toks["tiny"].pat.findall(text)}
        for name, tok in toks.items():
            entry = tokens_and_ids(tok, text)
            entry["decoded"] = tok.decode(entry["input_ids"])
            case[name] = entry
        cases.append(case)

    invalid = []
    for raw in invalid_utf8_inputs(rng, 30):
        text = raw.decode("utf-8", errors="replace")
        case = {"bytes_hex": raw.hex(), "text": text, "regex_pieces": toks["tiny"].pat.findall(text)}
        for name, tok in toks.items():
            case[name] = tokens_and_ids(tok, text)
        invalid.append(case)

    decode_cases = []
    for name, tok in toks.items():
        size = len(tok.encoder)
        byte_ids = [i for t, i in tok.encoder.items() if len(t) == 1]
        special_ids = sorted(set(tok.all_special_ids))
        for k in range(60):
            if k % 3 == 0:
                ids = [rng.choice(byte_ids) for _ in range(rng.randint(1, 12))]
            elif k % 3 == 1:
                ids = [rng.randrange(size) for _ in range(rng.randint(0, 16))]
            else:
                ids = tok.encode(rng.choice(texts))[: rng.randint(1, 30)]
            if rng.random() < 0.4:
                ids.insert(rng.randint(0, len(ids)), rng.choice(special_ids))
            decode_cases.append({
                "vocab": name, "ids": ids,
                "decoded": tok.decode(ids),
                "decoded_skip_special": tok.decode(ids, skip_special_tokens=True),
                "decoded_no_cleanup": tok.decode(ids, clean_up_tokenization_spaces=False),
            })

    batch_texts = ["What color is the cat?", "", " leading space", "<mask> is <s> here", "don't   stop\n",
                   "antidisestablishmentarianism " * 4, "👨‍👩‍👧‍👦 family", "a"]
    batches = []
    for name, tok in toks.items():
        for max_length in (3, 4, 8, 12, 40):
            enc = tok(batch_texts, padding="max_length", truncation=True, max_length=max_length)
            batches.append({"vocab": name, "max_length": max_length, "texts": batch_texts,
                            "input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})

    with open(files["tiny"][1], encoding="utf-8", newline="") as f:
        tiny_merges = f.read()
    with open(files["tiny"][0], encoding="utf-8") as f:
        tiny_vocab = f.read()
    file_variants = []
    with tempfile.TemporaryDirectory() as tmp:
        vocab_path = os.path.join(tmp, "vocab.json")
        merges_path = os.path.join(tmp, "merges.txt")
        variants = [(n, None, m) for n, m in merges_variants(tiny_merges)]
        variants += [(n, v, None) for n, v in vocab_variants(tiny_vocab)]
        for name, vocab_text, merges_text in variants:
            with open(vocab_path, "w", encoding="utf-8", newline="") as f:
                f.write(vocab_text if vocab_text is not None else tiny_vocab)
            with open(merges_path, "w", encoding="utf-8", newline="") as f:
                f.write(merges_text if merges_text is not None else tiny_merges)
            tok = load(RobertaTokenizer, vocab_path, merges_path)
            entry = {"name": name, "merges": merges_text, "vocab": vocab_text, "vocab_size": len(tok.encoder),
                     "rule_count": sum(1 for rule in tok.bpe_ranks if len(rule) == 2), "cases": []}
            for text in VARIANT_TEXTS:
                case = {"text": text, **tokens_and_ids(tok, text)}
                case["decoded"] = tok.decode(case["input_ids"])
                entry["cases"].append(case)
            file_variants.append(entry)

    doc = {
        "reference": (f"transformers {version} (GitHub mirror johnnyboystar22/hugging-face commit "
                      f"{TRANSFORMERS_COMMIT}) RobertaTokenizer(vocab.json, merges.txt), slow/pure Python, all "
                      "defaults; tokens = tokenize(text), input_ids = encode(text, add_special_tokens=True), "
                      "regex_pieces = pat.findall(text), decoded = decode(input_ids) (skip_special_tokens=False, "
                      "clean_up_tokenization_spaces=True: the default of this version)"),
        "generator": "tools/reference/gen_roberta_tokenizer_cases.py (seed %d)" % SEED,
        "vocab_files": {name: VOCABS[name] + "/vocab.json + merges.txt" for name in VOCABS},
        "unicode_classes": unicode_classes(),
        "cases": cases,
        "invalid_utf8": invalid,
        "decode_cases": decode_cases,
        "batches": batches,
        "file_variants": file_variants,
    }
    write_json(args.out, doc)
    print(f"{args.out}: {len(cases)} texts, {len(invalid)} invalid-UTF-8 inputs, {len(decode_cases)} decode cases, "
          f"{len(batches)} batches, {len(file_variants)} file variants")


if __name__ == "__main__":
    main()
