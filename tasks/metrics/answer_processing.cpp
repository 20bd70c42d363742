#include "tasks/metrics/answer_processing.h"

#include "tasks/metrics/python_text.h"

#include <algorithm>
#include <array>
#include <utility>

namespace tokenscope::metrics {
namespace {

using python::Dialect;

// The contractions table both scorers share (vqaEval.py's self.contractions and m4c_evaluator.py's
// CONTRACTIONS hold the same 120 entries), sorted by key for a binary search.
constexpr std::pair<std::string_view, std::string_view> kContractions[] = {
    {"'ow'sat", "'ow's'at"}, {"'ows'at", "'ow's'at"}, {"I'dve", "I'd've"}, {"Id've", "I'd've"}, {"Im", "I'm"},
    {"Ive", "I've"}, {"aint", "ain't"}, {"arent", "aren't"}, {"cant", "can't"}, {"couldn'tve", "couldn't've"},
    {"couldnt", "couldn't"}, {"couldnt've", "couldn't've"}, {"couldve", "could've"}, {"didnt", "didn't"},
    {"doesnt", "doesn't"}, {"dont", "don't"}, {"hadn'tve", "hadn't've"}, {"hadnt", "hadn't"},
    {"hadnt've", "hadn't've"}, {"hasnt", "hasn't"}, {"havent", "haven't"}, {"he'dve", "he'd've"}, {"hed", "he'd"},
    {"hed've", "he'd've"}, {"hes", "he's"}, {"howd", "how'd"}, {"howll", "how'll"}, {"hows", "how's"},
    {"isnt", "isn't"}, {"it'dve", "it'd've"}, {"itd", "it'd"}, {"itd've", "it'd've"}, {"itll", "it'll"},
    {"let's", "let's"}, {"maam", "ma'am"}, {"mightn'tve", "mightn't've"}, {"mightnt", "mightn't"},
    {"mightnt've", "mightn't've"}, {"mightve", "might've"}, {"mustnt", "mustn't"}, {"mustve", "must've"},
    {"neednt", "needn't"}, {"notve", "not've"}, {"oclock", "o'clock"}, {"oughtnt", "oughtn't"},
    {"ow's'at", "'ow's'at"}, {"shant", "shan't"}, {"she'dve", "she'd've"}, {"she's", "she's"},
    {"shed've", "she'd've"}, {"shouldn'tve", "shouldn't've"}, {"shouldnt", "shouldn't"},
    {"shouldnt've", "shouldn't've"}, {"shouldve", "should've"}, {"somebody'd", "somebodyd"},
    {"somebody'dve", "somebody'd've"}, {"somebodyd've", "somebody'd've"}, {"somebodyll", "somebody'll"},
    {"somebodys", "somebody's"}, {"someone'dve", "someone'd've"}, {"someoned", "someone'd"},
    {"someoned've", "someone'd've"}, {"someonell", "someone'll"}, {"someones", "someone's"},
    {"something'dve", "something'd've"}, {"somethingd", "something'd"}, {"somethingd've", "something'd've"},
    {"somethingll", "something'll"}, {"thats", "that's"}, {"there'dve", "there'd've"}, {"thered", "there'd"},
    {"thered've", "there'd've"}, {"therere", "there're"}, {"theres", "there's"}, {"they'dve", "they'd've"},
    {"theyd", "they'd"}, {"theyd've", "they'd've"}, {"theyll", "they'll"}, {"theyre", "they're"},
    {"theyve", "they've"}, {"twas", "'twas"}, {"wasnt", "wasn't"}, {"we'dve", "we'd've"}, {"wed've", "we'd've"},
    {"werent", "weren't"}, {"weve", "we've"}, {"whatll", "what'll"}, {"whatre", "what're"}, {"whats", "what's"},
    {"whatve", "what've"}, {"whens", "when's"}, {"whered", "where'd"}, {"wheres", "where's"},
    {"whereve", "where've"}, {"who'dve", "who'd've"}, {"whod", "who'd"}, {"whod've", "who'd've"},
    {"wholl", "who'll"}, {"whos", "who's"}, {"whove", "who've"}, {"whyll", "why'll"}, {"whyre", "why're"},
    {"whys", "why's"}, {"wont", "won't"}, {"wouldn'tve", "wouldn't've"}, {"wouldnt", "wouldn't"},
    {"wouldnt've", "wouldn't've"}, {"wouldve", "would've"}, {"y'all'dve", "y'all'd've"},
    {"y'alld've", "y'all'd've"}, {"y'allll", "y'all'll"}, {"yall", "y'all"}, {"yall'd've", "y'all'd've"},
    {"yall'll", "y'all'll"}, {"you'dve", "you'd've"}, {"youd", "you'd"}, {"youd've", "you'd've"},
    {"youll", "you'll"}, {"youre", "you're"}, {"youve", "you've"},
};

constexpr std::pair<std::string_view, std::string_view> kNumberWords[] = {
    {"eight", "8"}, {"five", "5"}, {"four", "4"}, {"nine", "9"}, {"none", "0"}, {"one", "1"},
    {"seven", "7"}, {"six", "6"}, {"ten", "10"}, {"three", "3"}, {"two", "2"}, {"zero", "0"},
};

constexpr std::u32string_view kPunctuation = U";/[]\"{}()=+\\_->@`,?!<";

template <std::size_t N>
std::string_view lookUp(const std::pair<std::string_view, std::string_view> (&table)[N], std::string_view key) {
    const auto it = std::lower_bound(std::begin(table), std::end(table), key,
                                     [](const auto& entry, std::string_view k) { return entry.first < k; });
    return it != std::end(table) && it->first == key ? it->second : std::string_view();
}

bool isPunctuation(char32_t c) { return kPunctuation.find(c) != std::u32string_view::npos; }

// vqaEval.py's commaStrip "(\d)(\,)(\d)": a digit, one comma, a digit.
bool hasDigitCommaDigit(std::u32string_view text, Dialect dialect) {
    for (std::size_t i = 1; i + 1 < text.size(); ++i)
        if (text[i] == U',' && python::isRegexDigit(text[i - 1], dialect) && python::isRegexDigit(text[i + 1], dialect)) return true;
    return false;
}

// m4c_evaluator.py's COMMA_STRIP "(?<=\d)(\,)+(?=\d)": a digit, one or more commas, a digit.
bool hasDigitCommasDigit(std::u32string_view text, Dialect dialect) {
    for (std::size_t i = 1; i < text.size(); ++i) {
        if (text[i] != U',' || !python::isRegexDigit(text[i - 1], dialect)) continue;
        std::size_t j = i;
        while (j < text.size() && text[j] == U',') ++j;
        if (j < text.size() && python::isRegexDigit(text[j], dialect)) return true;
    }
    return false;
}

enum class CommaRule { OneComma, Commas };

// processPunctuation / process_punctuation. The conditions look at the input, the replacements
// write the output; each mark is replaced independently of the others, so one pass does it.
std::u32string processPunctuation(std::u32string_view in, Dialect dialect, CommaRule rule) {
    const bool commaBetweenDigits = rule == CommaRule::OneComma ? hasDigitCommaDigit(in, dialect) : hasDigitCommasDigit(in, dialect);
    std::u32string out;
    out.reserve(in.size());
    for (char32_t c : in) {
        if (!isPunctuation(c)) {
            out.push_back(c);
            continue;
        }
        const char32_t before[2] = {c, U' '};
        const char32_t after[2] = {U' ', c};
        const bool deleted = commaBetweenDigits || in.find(std::u32string_view(before, 2)) != std::u32string_view::npos ||
                             in.find(std::u32string_view(after, 2)) != std::u32string_view::npos;
        if (!deleted) out.push_back(U' ');
    }
    // periodStrip "(?!<=\d)(\.)(?!\d)" with count=32 (re.UNICODE passed positionally). The first
    // lookahead tests for the text "<=" + digit at the period itself and so always passes.
    constexpr int kMaxPeriods = 32;
    std::u32string stripped;
    stripped.reserve(out.size());
    int removed = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] == U'.' && removed < kMaxPeriods && !(i + 1 < out.size() && python::isRegexDigit(out[i + 1], dialect))) {
            ++removed;
            continue;
        }
        stripped.push_back(out[i]);
    }
    return stripped;
}

// processDigitArticle / process_digit_article.
std::u32string processDigitArticle(std::u32string_view in, Dialect dialect) {
    std::vector<std::string> words;
    for (const auto& word32 : python::split(python::lower(in, dialect), dialect)) {
        std::string word = python::encodeUtf8(word32);
        if (const auto number = lookUp(kNumberWords, word); !number.empty()) word = std::string(number);
        if (word == "a" || word == "an" || word == "the") continue;
        words.push_back(std::move(word));
    }
    std::string out;
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (i) out.push_back(' ');
        const auto contraction = lookUp(kContractions, words[i]);
        out += contraction.empty() ? words[i] : std::string(contraction);
    }
    return python::decodeUtf8(out);
}

std::u32string cleanWhitespace(std::u32string_view in, Dialect dialect) {
    const auto spaced = python::replaceAll(python::replaceAll(in, U"\n", U" "), U"\t", U" ");
    return python::strip(spaced, dialect);
}

}  // namespace

std::string vqaCleanAnswer(std::string_view answer) {
    return python::encodeUtf8(cleanWhitespace(python::decodeUtf8(answer), Dialect::Python2));
}

std::string vqaProcessPunctuation(std::string_view answer) {
    return python::encodeUtf8(processPunctuation(python::decodeUtf8(answer), Dialect::Python2, CommaRule::OneComma));
}

std::string vqaProcessDigitArticle(std::string_view answer) {
    return python::encodeUtf8(processDigitArticle(python::decodeUtf8(answer), Dialect::Python2));
}

std::string vqaProcessAnswer(std::string_view answer) {
    const auto punctuated = processPunctuation(python::decodeUtf8(answer), Dialect::Python2, CommaRule::OneComma);
    return python::encodeUtf8(processDigitArticle(punctuated, Dialect::Python2));
}

std::string evalAiProcessAnswer(std::string_view answer) {
    constexpr Dialect kDialect = Dialect::Python3;
    // word_tokenize: lower, delete ',' and '?', "'s" -> " 's", strip.
    auto text = python::lower(python::decodeUtf8(answer), kDialect);
    text = python::replaceAll(python::replaceAll(python::replaceAll(text, U",", U""), U"?", U""), U"'s", U" 's");
    text = python::strip(text, kDialect);
    text = cleanWhitespace(text, kDialect);
    text = processPunctuation(text, kDialect, CommaRule::Commas);
    return python::encodeUtf8(processDigitArticle(text, kDialect));
}

std::string llavaGqaAnswer(std::string_view text) {
    std::size_t end = text.size();
    while (end > 0 && text[end - 1] == '.') --end;
    return python::lower(text.substr(0, end), Dialect::Python3);
}

bool popeAnswerIsNo(std::string_view text) {
    // Everything here is ASCII, so the UTF-8 bytes can be worked on directly.
    const auto period = text.find('.');
    std::string sentence(text.substr(0, period));
    sentence.erase(std::remove(sentence.begin(), sentence.end(), ','), sentence.end());
    std::size_t begin = 0;
    while (true) {
        const auto end = sentence.find(' ', begin);
        const std::string_view word = std::string_view(sentence).substr(begin, end == std::string::npos ? std::string::npos : end - begin);
        if (word == "No" || word == "not" || word == "no") return true;
        if (end == std::string::npos) return false;
        begin = end + 1;
    }
}

bool popeLabelIsNo(std::string_view label) { return label == "no"; }

}  // namespace tokenscope::metrics
