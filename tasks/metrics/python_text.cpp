#include "tasks/metrics/python_text.h"

#include "text/unicode_tables.h"
#include "text/utf8.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>

namespace tokenscope::metrics::python {
namespace {

constexpr char32_t kReplacement = 0xFFFD;
constexpr char32_t kCapitalSigma = 0x03A3;
constexpr char32_t kSmallSigma = 0x03C3;
constexpr char32_t kFinalSigma = 0x03C2;
constexpr char32_t kCapitalIWithDot = 0x0130;
constexpr char32_t kMongolianVowelSeparator = 0x180E;  // Zs in Unicode 5.2 (Python 2.7), Cf since 6.3

// The runs of category Nd in Unicode 14.0.0 (CPython 3.11's `re` matches `\d` exactly on these):
// 61 runs of ten digits and the 50 mathematical digits U+1D7CE..U+1D7FF.
struct Range {
    char32_t first, last;
};
constexpr std::array<Range, 62> kDecimalDigits{{
    {0x30, 0x39},       {0x660, 0x669},     {0x6F0, 0x6F9},     {0x7C0, 0x7C9},     {0x966, 0x96F},
    {0x9E6, 0x9EF},     {0xA66, 0xA6F},     {0xAE6, 0xAEF},     {0xB66, 0xB6F},     {0xBE6, 0xBEF},
    {0xC66, 0xC6F},     {0xCE6, 0xCEF},     {0xD66, 0xD6F},     {0xDE6, 0xDEF},     {0xE50, 0xE59},
    {0xED0, 0xED9},     {0xF20, 0xF29},     {0x1040, 0x1049},   {0x1090, 0x1099},   {0x17E0, 0x17E9},
    {0x1810, 0x1819},   {0x1946, 0x194F},   {0x19D0, 0x19D9},   {0x1A80, 0x1A89},   {0x1A90, 0x1A99},
    {0x1B50, 0x1B59},   {0x1BB0, 0x1BB9},   {0x1C40, 0x1C49},   {0x1C50, 0x1C59},   {0xA620, 0xA629},
    {0xA8D0, 0xA8D9},   {0xA900, 0xA909},   {0xA9D0, 0xA9D9},   {0xA9F0, 0xA9F9},   {0xAA50, 0xAA59},
    {0xABF0, 0xABF9},   {0xFF10, 0xFF19},   {0x104A0, 0x104A9}, {0x10D30, 0x10D39}, {0x11066, 0x1106F},
    {0x110F0, 0x110F9}, {0x11136, 0x1113F}, {0x111D0, 0x111D9}, {0x112F0, 0x112F9}, {0x11450, 0x11459},
    {0x114D0, 0x114D9}, {0x11650, 0x11659}, {0x116C0, 0x116C9}, {0x11730, 0x11739}, {0x118E0, 0x118E9},
    {0x11950, 0x11959}, {0x11C50, 0x11C59}, {0x11D50, 0x11D59}, {0x11DA0, 0x11DA9}, {0x16A60, 0x16A69},
    {0x16AC0, 0x16AC9}, {0x16B50, 0x16B59}, {0x1D7CE, 0x1D7FF}, {0x1E140, 0x1E149}, {0x1E2F0, 0x1E2F9},
    {0x1E950, 0x1E959}, {0x1FBF0, 0x1FBF9},
}};

// Final_Sigma (Unicode 3.13, as CPython's str.lower applies it): a capital sigma lowers to the final
// form when a cased letter precedes it and none follows, case-ignorable characters skipped both ways.
bool isFinalSigma(std::u32string_view text, std::size_t i) {
    using unicode::CaseContext;
    std::size_t j = i;
    while (j > 0 && unicode::caseContext(text[j - 1]) == CaseContext::CaseIgnorable) --j;
    if (j == 0 || unicode::caseContext(text[j - 1]) != CaseContext::Cased) return false;
    std::size_t k = i + 1;
    while (k < text.size() && unicode::caseContext(text[k]) == CaseContext::CaseIgnorable) ++k;
    return k == text.size() || unicode::caseContext(text[k]) != CaseContext::Cased;
}

// Adds one unit in the last place of a non-negative decimal string ("0.62" -> "0.63", "9.99" -> "10.00").
std::string incrementDecimal(std::string digits) {
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
        if (*it == '.') continue;
        if (*it != '9') {
            ++*it;
            return digits;
        }
        *it = '0';
    }
    return "1" + digits;
}

}  // namespace

std::u32string decodeUtf8(std::string_view text) {
    std::u32string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto byte = static_cast<unsigned char>(text[i]);
        int length = 0;
        char32_t cp = 0;
        if (byte < 0x80) {
            out.push_back(byte);
            ++i;
            continue;
        } else if ((byte & 0xE0) == 0xC0) {
            length = 2;
            cp = byte & 0x1F;
        } else if ((byte & 0xF0) == 0xE0) {
            length = 3;
            cp = byte & 0x0F;
        } else if ((byte & 0xF8) == 0xF0) {
            length = 4;
            cp = byte & 0x07;
        }
        bool valid = length > 0 && i + length <= text.size();
        for (int k = 1; valid && k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            valid = (next & 0xC0) == 0x80;
            cp = (cp << 6) | (next & 0x3F);
        }
        // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 either.
        static constexpr char32_t kMinimum[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (valid && (cp < kMinimum[length] || cp > unicode::kMaxCodePoint || (cp >= 0xD800 && cp < 0xE000)))
            valid = false;
        if (!valid) {
            out.push_back(kReplacement);
            ++i;
            continue;
        }
        out.push_back(cp);
        i += length;
    }
    return out;
}

std::string encodeUtf8(std::u32string_view text) { return toUtf8(text); }

bool isSpace(char32_t cp, Dialect dialect) {
    if (dialect == Dialect::Python2 && cp == kMongolianVowelSeparator) return true;
    return unicode::isPythonSpace(cp);
}

bool isRegexDigit(char32_t cp, Dialect dialect) {
    if (dialect == Dialect::Python2) return cp >= U'0' && cp <= U'9';
    const auto it = std::upper_bound(kDecimalDigits.begin(), kDecimalDigits.end(), cp,
                                     [](char32_t value, const Range& r) { return value < r.first; });
    return it != kDecimalDigits.begin() && cp <= std::prev(it)->last;
}

std::u32string lower(std::u32string_view text, Dialect dialect) {
    std::u32string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char32_t cp = text[i];
        if (cp < 0x80) {
            out.push_back(cp >= U'A' && cp <= U'Z' ? cp + 32 : cp);
        } else if (cp == kCapitalSigma) {
            out.push_back(dialect == Dialect::Python3 && isFinalSigma(text, i) ? kFinalSigma : kSmallSigma);
        } else if (cp == kCapitalIWithDot && dialect == Dialect::Python2) {
            out.push_back(U'i');  // the simple mapping; the full one adds U+0307
        } else {
            unicode::appendLower(cp, out);
        }
    }
    return out;
}

std::string lower(std::string_view utf8, Dialect dialect) { return encodeUtf8(lower(decodeUtf8(utf8), dialect)); }

std::vector<std::u32string> split(std::u32string_view text, Dialect dialect) {
    std::vector<std::u32string> words;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && isSpace(text[i], dialect)) ++i;
        const std::size_t start = i;
        while (i < text.size() && !isSpace(text[i], dialect)) ++i;
        if (i > start) words.emplace_back(text.substr(start, i - start));
    }
    return words;
}

std::u32string strip(std::u32string_view text, Dialect dialect) {
    std::size_t begin = 0, end = text.size();
    while (begin < end && isSpace(text[begin], dialect)) ++begin;
    while (end > begin && isSpace(text[end - 1], dialect)) --end;
    return std::u32string(text.substr(begin, end - begin));
}

std::u32string replaceAll(std::u32string_view text, std::u32string_view from, std::u32string_view to) {
    if (from.empty()) return std::u32string(text);  // never asked for: Python would insert between characters
    std::u32string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (true) {
        const std::size_t at = text.find(from, i);
        if (at == std::u32string_view::npos) break;
        out.append(text.substr(i, at - i));
        out.append(to);
        i = at + from.size();
    }
    out.append(text.substr(i));
    return out;
}

double round(double x, int digits, Dialect dialect) {
    if (!std::isfinite(x) || x == 0.0 || digits < 0) return x;
    // A halfway case has 2-valuation exactly -(digits + 1): its decimal expansion ends in a 5 at
    // place digits + 1 (CPython 2.7's _Py_double_round). Only Python 2 treats it specially.
    const double scaled = std::ldexp(x, digits + 1);
    const bool halfway = std::isfinite(scaled) && scaled == std::floor(scaled) && std::fmod(scaled, 2.0) != 0.0;
    std::string text;
    if (halfway && dialect == Dialect::Python2) {
        text = formatFixed(std::fabs(x), digits + 1);  // exact: the value has digits + 1 decimals
        text.pop_back();                               // the trailing 5
        if (!text.empty() && text.back() == '.') text.pop_back();
        text = incrementDecimal(text);
        if (x < 0) text.insert(text.begin(), '-');
    } else {
        text = formatFixed(x, digits);  // glibc prints the correctly rounded value, halfway to even
    }
    return std::strtod(text.c_str(), nullptr);
}

std::string formatFixed(double x, int digits) {
    const int size = std::snprintf(nullptr, 0, "%.*f", digits, x);
    std::string out(static_cast<std::size_t>(size) + 1, '\0');
    std::snprintf(out.data(), out.size(), "%.*f", digits, x);
    out.resize(static_cast<std::size_t>(size));
    return out;
}

std::string repr(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    if (x == 0.0) return std::signbit(x) ? "-0.0" : "0.0";
    // The shortest round-trip digits from to_chars, laid out by CPython's float_repr_style 'short'
    // rules: exponent notation when the decimal point is at or before the fourth zero after it, or
    // more than 16 places after the first digit.
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, std::fabs(x), std::chars_format::scientific);
    const std::string scientific(buffer, result.ptr);
    const auto e = scientific.find('e');
    std::string digits = scientific.substr(0, e);
    digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
    const int exponent = std::atoi(scientific.c_str() + e + 1);
    const int decimalPoint = exponent + 1;  // value = 0.DIGITS * 10^decimalPoint
    std::string out = x < 0 ? "-" : "";
    if (decimalPoint <= -4 || decimalPoint > 16) {
        out += digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char exponentText[16];
        std::snprintf(exponentText, sizeof exponentText, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
        return out + exponentText;
    }
    if (decimalPoint <= 0) return out + "0." + std::string(static_cast<std::size_t>(-decimalPoint), '0') + digits;
    if (static_cast<std::size_t>(decimalPoint) >= digits.size())
        return out + digits + std::string(static_cast<std::size_t>(decimalPoint) - digits.size(), '0') + ".0";
    return out + digits.substr(0, static_cast<std::size_t>(decimalPoint)) + "." + digits.substr(static_cast<std::size_t>(decimalPoint));
}

}  // namespace tokenscope::metrics::python
