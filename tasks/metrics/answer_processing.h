#pragma once

// How the official scorers turn an answer into the string they compare. Each function reproduces
// one public source, its quirks included (listed with the function). UTF-8 in and out; pure
// functions, any thread.

#include <string>
#include <string_view>

namespace tokenscope::metrics {

// ---- VQAv2: GT-Vision-Lab/VQA PythonEvaluationTools/vqaEvaluation/vqaEval.py (Python 2) ----
//
// evaluate() first replaces "\n" and "\t" by spaces and strips every answer (vqaCleanAnswer).
// Only when the ground-truth answers of a question are not all identical after that are the
// prediction and the answers also put through processPunctuation then processDigitArticle
// (vqaProcessAnswer); with ten identical answers "Yes" or "yes." score 0 against "yes".
std::string vqaCleanAnswer(std::string_view answer);
// processPunctuation: each of ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? ! is deleted when it stands
// next to a space somewhere in the answer (p + " " or " " + p occurs) or when the answer holds a
// digit-comma-digit anywhere (then every punctuation mark is deleted, not only that comma), else
// replaced by a space. Then a period not followed by an ASCII digit is deleted ("3.5" keeps its
// period), at most 32 of them: the code passes re.UNICODE (32) where re.sub takes its count.
// Apostrophes, colons, '#', '$', '%', '&', '*' stay.
std::string vqaProcessPunctuation(std::string_view answer);
// processDigitArticle: lower case (Python 2 unicode.lower), split on whitespace, number words
// none/zero..ten -> 0..10, drop "a", "an", "the", then the contractions table ("dont" -> "don't";
// its capitalised keys "Im", "Ive", "Id've" never match lower-cased words; "somebody'd" maps to
// "somebodyd" as written), joined by single spaces.
std::string vqaProcessDigitArticle(std::string_view answer);
// vqaProcessDigitArticle(vqaProcessPunctuation(answer)).
std::string vqaProcessAnswer(std::string_view answer);

// ---- TextVQA: EvalAIAnswerProcessor in haotian-liu/LLaVA llava/eval/m4c_evaluator.py ----
// (copied there from facebookresearch/mmf; Python 3). LLaVA's TextVQA evaluation and its VQAv2
// submission converter (scripts/convert_vqav2_for_submission.py) both use it. It differs from
// vqaEval.py: it always runs, lower-cases first, deletes every ',' and '?' and turns "'s" into
// " 's" before the punctuation step (so the digit-comma-digit rule can never fire), `\d` is any
// Unicode decimal digit, and lower() is Python 3's (full mapping, Final_Sigma).
std::string evalAiProcessAnswer(std::string_view answer);

// ---- GQA: haotian-liu/LLaVA scripts/convert_gqa_for_eval.py ----
// text.rstrip('.').lower(): trailing periods removed (other trailing characters, spaces included,
// stay), Python 3 lower case. GQA's eval.py then compares with `==`, nothing more.
std::string llavaGqaAnswer(std::string_view text);

// ---- POPE: haotian-liu/LLaVA llava/eval/eval_pope.py ----
// Keeps the text before its first '.', deletes ',', splits on single spaces (not on newlines or
// tabs) and answers "no" when a word is exactly "No", "not" or "no" (so "NO" and "No!" are yes,
// "not sure" is no); everything else, the empty answer included, is yes.
bool popeAnswerIsNo(std::string_view text);
// A label counts as negative only when it is exactly "no".
bool popeLabelIsNo(std::string_view label);

}  // namespace tokenscope::metrics
