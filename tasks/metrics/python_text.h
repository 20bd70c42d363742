#pragma once

// The handful of Python string and float operations the official scorers are built from, with the
// semantics of the interpreter each scorer runs on, so that a C++ score equals the official one bit
// for bit:
//
// - VQAv2's vqaEval.py (GT-Vision-Lab/VQA) is Python 2 code: its strings are `unicode` objects
//   (json.load), its regular expressions are compiled without re.UNICODE (`\d` is [0-9]),
//   `unicode.lower()` is the simple one-to-one case mapping without the Final_Sigma rule, and
//   `round(x, n)` rounds exact halfway cases away from zero.
// - LLaVA's m4c_evaluator.py, eval_pope.py, convert_gqa_for_eval.py, GQA's eval.py and NLVR2's
//   metrics.py run on Python 3: `\d` is any Unicode decimal digit (category Nd), `str.lower()` is the
//   full mapping with Final_Sigma, `round` and `format(x, ".2f")` round halfway cases to even.
//
// Character data: core's unicode tables (CPython 3.11, Unicode 14.0.0). Python 2.7 shipped Unicode
// 5.2; the two differ only for characters added or re-categorised since (U+180E is whitespace in
// Python 2 and is treated so here; case pairs added after 5.2 are lowered here as Python 3 does).
//
// Text is UTF-8 in and out; invalid UTF-8 bytes decode to U+FFFD. Pure functions, any thread.

#include <string>
#include <string_view>
#include <vector>

namespace tokenscope::metrics::python {

enum class Dialect { Python2, Python3 };

std::u32string decodeUtf8(std::string_view text);
std::string encodeUtf8(std::u32string_view text);

// str.isspace() of one character (Python 2: also U+180E).
bool isSpace(char32_t cp, Dialect dialect);
// What `\d` matches in a pattern compiled without flags: [0-9] in Python 2, category Nd in Python 3.
bool isRegexDigit(char32_t cp, Dialect dialect);

// str.lower(); Python 3 applies Final_Sigma and the full mapping (U+0130 -> "i\u0307"), Python 2
// neither (U+0130 -> "i", U+03A3 -> U+03C3 everywhere).
std::u32string lower(std::u32string_view text, Dialect dialect);
std::string lower(std::string_view utf8, Dialect dialect);
// str.split() with no argument: runs of whitespace separate, none at either end.
std::vector<std::u32string> split(std::u32string_view text, Dialect dialect);
// str.strip() with no argument.
std::u32string strip(std::u32string_view text, Dialect dialect);
// str.replace(old, new) for every occurrence, left to right, non-overlapping.
std::u32string replaceAll(std::u32string_view text, std::u32string_view from, std::u32string_view to);

// round(x, digits) for digits >= 0: the correctly rounded decimal value converted back to the
// nearest double; exact halfway cases (x * 2^(digits+1) an odd integer, e.g. 0.625) go away from
// zero in Python 2 and to even in Python 3. NaN, infinities and zeros come back unchanged.
double round(double x, int digits, Dialect dialect);
// "%.*f" % x and format(x, ".{digits}f") (both correctly rounded, halfway cases to even).
std::string formatFixed(double x, int digits);
// repr(x) of a float in Python 3 and 2.7: the shortest string that reads back as x, in exponent
// notation below 1e-4 or from 1e16 on ("0.8571428571428571", "1.0", "5e-05", "inf", "nan").
std::string repr(double x);

}  // namespace tokenscope::metrics::python
