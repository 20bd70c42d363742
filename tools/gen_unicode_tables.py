#!/usr/bin/env python3
"""Generate core/text/unicode_tables.cpp from Python's own Unicode database.

The BERT tokenizer must reproduce transformers' slow BertTokenizer, which runs on CPython's
`unicodedata` and `str.lower()`. Generating the tables from the same interpreter makes the C++
side agree with it character for character. The reference fixtures were made with CPython 3.11
(Unicode 14.0.0); run this script with an interpreter of that Unicode version:

    python3 tools/gen_unicode_tables.py            # writes core/text/unicode_tables.cpp
    python3 tools/gen_unicode_tables.py --check    # exit 1 if the committed file is stale

Only the standard library is used. The script also asserts the properties the C++ tokenizer
relies on (see the checks at the end of build_tables) and stops if a Unicode version breaks them.
"""

import argparse
import os
import sys
import unicodedata

EXPECTED_UNICODE_VERSION = "14.0.0"
MAX_CODE_POINT = 0x10FFFF
SURROGATES = range(0xD800, 0xE000)

# BERT's _is_chinese_char: CJK Unified Ideographs blocks and compatibility ideographs. These are
# fixed ranges in the reference code, not a Unicode property.
CJK_RANGES = [
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
]

# Values of the C++ enums; keep in sync with core/text/unicode_tables.h.
CLASS_OTHER, CLASS_CONTROL, CLASS_SPACE, CLASS_PUNCT, CLASS_MARK = range(5)
CLASS_NAMES = ["Other", "Control", "SpaceSeparator", "Punctuation", "NonspacingMark"]
CASE_NEITHER, CASE_CASED, CASE_IGNORABLE = range(3)
CASE_NAMES = ["Neither", "Cased", "CaseIgnorable"]


def all_code_points():
    return range(MAX_CODE_POINT + 1)


def char_class(cp):
    category = unicodedata.category(chr(cp))
    if category[0] == "C":
        return CLASS_CONTROL
    if category == "Zs":
        return CLASS_SPACE
    if category[0] == "P":
        return CLASS_PUNCT
    if category == "Mn":
        return CLASS_MARK
    return CLASS_OTHER


def case_context(cp):
    """Classify cp for the Final_Sigma rule the way CPython's str.lower() sees it.

    unicodedata exposes neither Cased nor Case_Ignorable, so both are read off str.lower()
    itself: capital sigma lowers to final sigma iff a cased letter precedes it (skipping
    case-ignorables) and none follows (again skipping case-ignorables).
    """
    if cp in SURROGATES:
        return CASE_NEITHER
    c = chr(cp)
    cased_before = (c + "\u03a3").lower()[-1] == "\u03c2"
    ignorable_between = ("A" + c + "\u03a3").lower()[-1] == "\u03c2"
    not_cased_after = ("A\u03a3" + c).lower()[1] == "\u03c2"
    if ignorable_between and not_cased_after:
        return CASE_IGNORABLE
    return CASE_CASED if cased_before else CASE_NEITHER


def value_ranges(value_of, skip_value):
    """[(first, last, value)] over all code points, leaving out runs whose value is skip_value."""
    ranges = []
    start, current = 0, value_of(0)
    for cp in range(1, MAX_CODE_POINT + 2):
        value = value_of(cp) if cp <= MAX_CODE_POINT else None
        if value != current:
            if current != skip_value:
                ranges.append((start, cp - 1, current))
            start, current = cp, value
    return ranges


def lower_ranges():
    """Single-character lowercase mappings as (first, last, delta, stride) runs.

    Code points first, first+stride, ..., last map to cp + delta. Runs of stride 2 cover the
    alternating upper/lower pairs of Latin Extended, Greek and Cyrillic.
    """
    single = []
    multi = []
    for cp in all_code_points():
        if cp in SURROGATES:
            continue
        lowered = chr(cp).lower()
        if lowered == chr(cp):
            continue
        if len(lowered) == 1:
            single.append((cp, ord(lowered) - cp))
        else:
            multi.append((cp, [ord(ch) for ch in lowered]))

    runs = []
    i = 0
    while i < len(single):
        first, delta = single[i]
        last, stride = first, 1
        j = i + 1
        if j < len(single) and single[j][1] == delta and single[j][0] - first in (1, 2):
            stride = single[j][0] - first
            while j < len(single) and single[j][1] == delta and single[j][0] == last + stride:
                last = single[j][0]
                j += 1
        runs.append((first, last, delta, stride))
        i = j
    return runs, multi


def decompositions():
    """Full canonical decompositions (recursive, not reordered) of every non-Hangul code point.

    Returns [(cp, [code points])]. Hangul syllables are decomposed algorithmically in C++.
    """
    table = []

    def expand(cp):
        decomposition = unicodedata.decomposition(chr(cp))
        if not decomposition or decomposition.startswith("<"):
            return [cp]
        out = []
        for part in decomposition.split():
            out.extend(expand(int(part, 16)))
        return out

    for cp in all_code_points():
        if cp in SURROGATES:
            continue
        decomposition = unicodedata.decomposition(chr(cp))
        if decomposition and not decomposition.startswith("<"):
            table.append((cp, expand(cp)))
    return table


def nfd_without_reordering(text, decomposition_of):
    out = []
    for ch in text:
        cp = ord(ch)
        if 0xAC00 <= cp <= 0xD7A3:
            out.extend(ord(x) for x in unicodedata.normalize("NFD", ch))
        else:
            out.extend(decomposition_of.get(cp, [cp]))
    return out


def canonical_order(code_points):
    out = list(code_points)
    # Stable sort of every run of non-starters by combining class (Unicode canonical ordering).
    i = 0
    while i < len(out):
        if unicodedata.combining(chr(out[i])) == 0:
            i += 1
            continue
        j = i
        while j < len(out) and unicodedata.combining(chr(out[j])) != 0:
            j += 1
        out[i:j] = sorted(out[i:j], key=lambda c: unicodedata.combining(chr(c)))
        i = j
    return out


def build_tables():
    if unicodedata.unidata_version != EXPECTED_UNICODE_VERSION:
        sys.exit(
            f"this interpreter has Unicode {unicodedata.unidata_version}; the reference tokenizer "
            f"used {EXPECTED_UNICODE_VERSION} (CPython 3.11)"
        )

    tables = {
        "classes": value_ranges(char_class, CLASS_OTHER),
        "python_spaces": value_ranges(lambda cp: cp not in SURROGATES and chr(cp).isspace(), False),
        "case_context": value_ranges(case_context, CASE_NEITHER),
        "combining": value_ranges(lambda cp: unicodedata.combining(chr(cp)), 0),
    }
    tables["lower"], tables["lower_multi"] = lower_ranges()
    tables["decompositions"] = decompositions()

    # --- Checks of what the C++ side assumes. ---
    decomposition_of = dict(tables["decompositions"])
    lower_single = {}
    for first, last, delta, stride in tables["lower"]:
        for cp in range(first, last + 1, stride):
            lower_single[cp] = cp + delta
    lower_multi = dict(tables["lower_multi"])
    for cp in all_code_points():
        if cp in SURROGATES:
            continue
        ch = chr(cp)
        lowered = ch.lower()
        rebuilt = lower_multi.get(cp, [lower_single.get(cp, cp)])
        assert [ord(x) for x in lowered] == rebuilt, hex(cp)
        # str.lower() is idempotent, so lowering twice (once per character before the special
        # tokens are split out, once per word in BasicTokenizer) equals lowering once.
        assert lowered.lower() == lowered, hex(cp)
        # Lowering never creates the upper-case ASCII letters of a special-token literal such as
        # "[CLS]", so literals found in the original text are exactly those of the lowered text.
        assert not any("A" <= x <= "Z" for x in lowered), hex(cp)
        # Neither lowering nor decomposing creates whitespace, so words split before them stay words.
        assert ch.isspace() or not any(x.isspace() for x in unicodedata.normalize("NFD", lowered)), hex(cp)
        # BasicTokenizer applies NFC before lower() and NFD after it. The C++ side skips the NFC
        # step; that is exact only if lowering commutes with canonical decomposition...
        nfd = unicodedata.normalize("NFD", ch)
        assert unicodedata.normalize("NFD", lowered) == unicodedata.normalize("NFD", nfd.lower()), hex(cp)
        # ... and if composing does not change the Final_Sigma context around a character.
        if nfd != ch:
            assert ("A" + ch + "\u03a3").lower()[-1] == ("A" + nfd + "\u03a3").lower()[-1], hex(cp)
            assert (ch + "\u03a3").lower()[-1] == (nfd + "\u03a3").lower()[-1], hex(cp)
            assert ("A\u03a3" + ch).lower()[1] == ("A\u03a3" + nfd).lower()[1], hex(cp)
        # The C++ NFD (table decomposition + Hangul + canonical ordering) matches Python's.
        expected = [ord(x) for x in nfd]
        assert canonical_order(nfd_without_reordering(ch, decomposition_of)) == expected, hex(cp)
    # _tokenize_chinese_chars runs before NFC and NFD, so a decomposition must not move a character
    # into or out of the CJK ranges: compatibility ideographs decompose to exactly one ideograph.
    # appendCanonicalDecomposition returns early below U+00C0.
    assert min(cp for cp, _ in tables["decompositions"]) >= 0xC0

    def is_cjk(cp):
        return any(first <= cp <= last for first, last in CJK_RANGES)

    for cp, parts in tables["decompositions"]:
        if is_cjk(cp) or any(is_cjk(p) for p in parts):
            assert is_cjk(cp) and len(parts) == 1 and is_cjk(parts[0]), hex(cp)
    return tables


def fmt_cp(cp):
    return f"0x{cp:04X}"


def emit_rows(items, per_line):
    lines = []
    for i in range(0, len(items), per_line):
        lines.append("    " + " ".join(items[i:i + per_line]))
    return "\n".join(lines)


def render(tables):
    out = []
    out.append("// GENERATED by tools/gen_unicode_tables.py from CPython's unicodedata "
               f"(Unicode {unicodedata.unidata_version}). Do not edit.")
    out.append("// Regenerate: python3 tools/gen_unicode_tables.py (needs a Python with the same Unicode version).")
    out.append("")
    out.append('#include "text/unicode_tables.h"')
    out.append("")
    out.append("#include <algorithm>")
    out.append("#include <cstdint>")
    out.append("")
    out.append("namespace tokenscope::unicode {")
    out.append("")
    out.append("namespace {")
    out.append("")
    out.append("struct ValueRange {")
    out.append("    char32_t first;")
    out.append("    char32_t last;")
    out.append("    std::uint8_t value;")
    out.append("};")
    out.append("")
    out.append("// cp in [first, last], (cp - first) % stride == 0  ->  cp + delta")
    out.append("struct LowerRange {")
    out.append("    char32_t first;")
    out.append("    char32_t last;")
    out.append("    std::int32_t delta;")
    out.append("    std::uint8_t stride;")
    out.append("};")
    out.append("")
    out.append("struct Decomposition {")
    out.append("    char32_t codePoint;")
    out.append("    std::uint16_t offset;  // into kDecompositionPool")
    out.append("    std::uint8_t length;")
    out.append("};")
    out.append("")

    def value_table(name, comment, ranges, value_fmt):
        out.append(f"// {comment}")
        out.append(f"constexpr ValueRange {name}[] = {{")
        items = [f"{{{fmt_cp(a)}, {fmt_cp(b)}, {value_fmt(v)}}}," for a, b, v in ranges]
        out.append(emit_rows(items, 4))
        out.append("};")
        out.append("")

    value_table("kClassRanges", "General-category classes other than Other (values: CharClass).",
                tables["classes"], str)
    value_table("kPythonSpaceRanges", "str.isspace().", tables["python_spaces"], lambda v: "1")
    value_table("kCaseContextRanges", "Final_Sigma context classes other than Neither (values: CaseContext).",
                tables["case_context"], str)
    value_table("kCombiningClassRanges", "Canonical combining classes other than 0.",
                tables["combining"], str)

    out.append("constexpr LowerRange kLowerRanges[] = {")
    items = [f"{{{fmt_cp(a)}, {fmt_cp(b)}, {d}, {s}}}," for a, b, d, s in tables["lower"]]
    out.append(emit_rows(items, 4))
    out.append("};")
    out.append("")

    out.append("// Lowercase mappings longer than one code point (SpecialCasing, unconditional).")
    out.append("struct LowerMulti {")
    out.append("    char32_t codePoint;")
    out.append("    char32_t mapping[3];")
    out.append("    std::uint8_t length;")
    out.append("};")
    out.append("constexpr LowerMulti kLowerMulti[] = {")
    for cp, mapping in tables["lower_multi"]:
        assert len(mapping) <= 3
        padded = mapping + [0] * (3 - len(mapping))
        out.append(f"    {{{fmt_cp(cp)}, {{{', '.join(fmt_cp(m) for m in padded)}}}, {len(mapping)}}},")
    out.append("};")
    out.append("")

    pool = []
    entries = []
    for cp, parts in tables["decompositions"]:
        entries.append((cp, len(pool), len(parts)))
        pool.extend(parts)
    assert len(pool) < 65536 and max(n for _, _, n in entries) < 256
    out.append("// Full canonical decompositions, concatenated; kDecompositions indexes into it.")
    out.append("constexpr char32_t kDecompositionPool[] = {")
    out.append(emit_rows([fmt_cp(cp) + "," for cp in pool], 10))
    out.append("};")
    out.append("")
    out.append("constexpr Decomposition kDecompositions[] = {")
    out.append(emit_rows([f"{{{fmt_cp(cp)}, {off}, {n}}}," for cp, off, n in entries], 5))
    out.append("};")
    out.append("")
    latin1 = "".join(str(char_class(cp)) for cp in range(256))
    out.append("// charClass of U+0000..U+00FF, one digit each, for the common case without a search.")
    out.append("constexpr char kLatin1Classes[] =")
    for i in range(0, 256, 64):
        out.append(f'    "{latin1[i:i + 64]}"')
    out.append("    ;")
    out.append(f"constexpr char32_t kFirstCombining = {fmt_cp(tables['combining'][0][0])};")
    out.append(f"constexpr char32_t kFirstCjk = {fmt_cp(min(first for first, _ in CJK_RANGES))};")
    out.append("")
    out.append("constexpr ValueRange kCjkRanges[] = {")
    for first, last in sorted(CJK_RANGES):
        out.append(f"    {{{fmt_cp(first)}, {fmt_cp(last)}, 1}},")
    out.append("};")
    out.append("")
    out.append(RUNTIME)
    out.append("}  // namespace tokenscope::unicode")
    return "\n".join(out) + "\n"


# Lookup code shared by every generated version of the file.
RUNTIME = r"""// Binary search in ranges sorted by first and not overlapping; 0 where cp is in no range.
template <std::size_t N>
std::uint8_t lookup(const ValueRange (&ranges)[N], char32_t cp) {
    const ValueRange* end = ranges + N;
    const ValueRange* it = std::upper_bound(ranges, end, cp,
                                            [](char32_t c, const ValueRange& r) { return c < r.first; });
    if (it == ranges) {
        return 0;
    }
    --it;
    return cp <= it->last ? it->value : 0;
}

constexpr char32_t kHangulFirst = 0xAC00;
constexpr char32_t kHangulLast = 0xD7A3;
constexpr char32_t kLeadFirst = 0x1100;
constexpr char32_t kVowelFirst = 0x1161;
constexpr char32_t kTrailFirst = 0x11A7;
constexpr char32_t kVowelCount = 21;
constexpr char32_t kTrailCount = 28;

}  // namespace

CharClass charClass(char32_t cp) {
    if (cp > kMaxCodePoint) {
        return CharClass::Control;  // not a character: treated like an unassigned one (Cn)
    }
    if (cp < 0x100) {
        return static_cast<CharClass>(kLatin1Classes[cp] - '0');
    }
    return static_cast<CharClass>(lookup(kClassRanges, cp));
}

bool isPythonSpace(char32_t cp) {
    if (cp < 0x80) {
        return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    }
    return lookup(kPythonSpaceRanges, cp) != 0;
}

bool isCjkIdeograph(char32_t cp) {
    return cp >= kFirstCjk && lookup(kCjkRanges, cp) != 0;
}

CaseContext caseContext(char32_t cp) {
    return static_cast<CaseContext>(lookup(kCaseContextRanges, cp));
}

std::uint8_t combiningClass(char32_t cp) {
    if (cp < kFirstCombining) {
        return 0;
    }
    return lookup(kCombiningClassRanges, cp);
}

void appendLower(char32_t cp, std::u32string& out) {
    if (cp < 0x80) {
        out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
        return;
    }
    for (const LowerMulti& m : kLowerMulti) {
        if (m.codePoint == cp) {
            out.append(m.mapping, m.length);
            return;
        }
    }
    const LowerRange* end = kLowerRanges + sizeof(kLowerRanges) / sizeof(kLowerRanges[0]);
    const LowerRange* it = std::upper_bound(kLowerRanges, end, cp,
                                            [](char32_t c, const LowerRange& r) { return c < r.first; });
    if (it != kLowerRanges) {
        --it;
        if (cp <= it->last && (cp - it->first) % it->stride == 0) {
            out.push_back(static_cast<char32_t>(static_cast<std::int64_t>(cp) + it->delta));
            return;
        }
    }
    out.push_back(cp);
}

void appendCanonicalDecomposition(char32_t cp, std::u32string& out) {
    if (cp < 0xC0) {
        out.push_back(cp);  // nothing below U+00C0 decomposes
        return;
    }
    if (cp >= kHangulFirst && cp <= kHangulLast) {
        const char32_t index = cp - kHangulFirst;
        out.push_back(kLeadFirst + index / (kVowelCount * kTrailCount));
        out.push_back(kVowelFirst + (index % (kVowelCount * kTrailCount)) / kTrailCount);
        if (index % kTrailCount != 0) {
            out.push_back(kTrailFirst + index % kTrailCount);
        }
        return;
    }
    const Decomposition* end = kDecompositions + sizeof(kDecompositions) / sizeof(kDecompositions[0]);
    const Decomposition* it = std::lower_bound(kDecompositions, end, cp,
                                               [](const Decomposition& d, char32_t c) { return d.codePoint < c; });
    if (it != end && it->codePoint == cp) {
        out.append(kDecompositionPool + it->offset, it->length);
        return;
    }
    out.push_back(cp);
}

void appendNfd(std::u32string_view text, std::u32string& out) {
    const std::size_t begin = out.size();
    for (char32_t cp : text) {
        appendCanonicalDecomposition(cp, out);
    }
    // Canonical ordering: stable-sort every run of non-starters by combining class.
    std::size_t i = begin;
    while (i < out.size()) {
        if (combiningClass(out[i]) == 0) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < out.size() && combiningClass(out[j]) != 0) {
            ++j;
        }
        if (j - i > 1) {
            std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(i), out.begin() + static_cast<std::ptrdiff_t>(j),
                             [](char32_t a, char32_t b) { return combiningClass(a) < combiningClass(b); });
        }
        i = j;
    }
}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--output", default=os.path.join(root, "core", "text", "unicode_tables.cpp"))
    parser.add_argument("--check", action="store_true", help="compare with the existing file instead of writing")
    args = parser.parse_args()

    text = render(build_tables())
    if args.check:
        with open(args.output, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit(f"{args.output} is out of date; run tools/gen_unicode_tables.py")
        print(f"{args.output} is up to date")
        return
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
