#pragma once

// VQA accuracy, the soft score of the VQAv2 authors, as two official scorers compute it.
//
// VQAv2: GT-Vision-Lab/VQA PythonEvaluationTools/vqaEvaluation/vqaEval.py, VQAEval.evaluate()
// (Python 2). Per question: for each of the annotators' answers, the prediction's matches among the
// *other* answers give min(1, matches / 3); the question's accuracy is the mean of these (the ten
// leave-one-out subsets). The answers are cleaned and, only when they are not all identical,
// processed (answer_processing.h: vqaCleanAnswer, vqaProcessAnswer). Leaving one out removes every
// answer record equal to it (answer, confidence and id), as the Python list comprehension does.
// Reported like the tool: per question round(100 * acc, 2) (evalQA); overall, per answer type and
// per question type round(100 * sum / n, 2) with the sums taken in annotation order; rounding is
// Python 2's (halfway cases away from zero: 0.625 -> 0.63, a Python 3 port prints 0.62).
//
// TextVQA: TextVQAAccuracyEvaluator in haotian-liu/LLaVA llava/eval/m4c_evaluator.py, run by
// llava/eval/eval_textvqa.py (Python 3): every answer and the prediction go through
// EvalAIAnswerProcessor (answer_processing.h: evalAiProcessAnswer), exactly ten answers are
// required (the evaluator asserts it), the question's score is the same leave-one-out mean, and
// the accuracy is sum / n over the predictions in file order, printed "{:.2f}%" of 100 * accuracy.
// eval_textvqa.py finds a prediction's question by (image id, question lower-cased): LLaVA's
// answers carry the image id in "question_id" and the question inside "prompt".
//
// Sums are plain left-to-right additions, as Python 2.7 and Python 3 up to 3.11 compute sum();
// Python 3.12's sum() compensates rounding errors and may differ from these in the last bit (not in
// the printed digits, in practice). Pure functions, any thread. The per-question functions throw
// tokenscope::Error for a question without answers (VQAv2) or without exactly ten (TextVQA).

#include "tasks/metrics/score_common.h"

#include "tasks/datasets/predictions.h"
#include "tasks/datasets/vqa_datasets.h"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tokenscope::metrics {

// ---- one question ----

struct VqaQuestionAccuracy {
    double accuracy = 0;        // the leave-one-out mean in [0, 1], unrounded (vqaEval.py's avgGTAcc)
    double percent = 0;         // round(100 * accuracy, 2), vqaEval.py's evalQA
    bool processed = false;     // the answers differed, so punctuation/digits/articles were processed
    std::string prediction;     // the prediction as compared
};
VqaQuestionAccuracy vqaQuestionAccuracy(std::string_view prediction, const std::vector<datasets::VqaAnswer>& answers);

// TextVQA's score of one prediction against its answers (unrounded, in [0, 1]). Throws Error when
// there are not exactly ten answers.
double textVqaQuestionScore(std::string_view prediction, const std::vector<std::string>& answers);

// ---- whole runs ----

struct VqaEvalItem {
    std::string questionId;
    std::string questionType;
    std::string answerType;
    std::string prediction;
    std::vector<datasets::VqaAnswer> answers;
};

struct VqaQuestionScore {
    std::string questionId;
    std::string answerType;
    std::string questionType;
    std::string prediction;     // as given (before LLaVA's submission processing, if any)
    VqaQuestionAccuracy result;
};

struct VqaAccuracy {
    std::size_t questions = 0;
    double overall = 0;                                  // percent, rounded as the tool rounds
    std::map<std::string, double> perAnswerType;         // percent, rounded
    std::map<std::string, std::size_t> answerTypeCounts;
    std::map<std::string, double> perQuestionType;       // percent, rounded
    std::map<std::string, std::size_t> questionTypeCounts;
    std::vector<VqaQuestionScore> perQuestion;           // in the items' order
};

// vqaEval.py's evaluate() and setAccuracy() over items in annotation order (the order matters to
// the last bit of the sums). No items: all zero.
VqaAccuracy evaluateVqa(const std::vector<VqaEvalItem>& items);

struct VqaV2Options {
    // LLaVA answers (JSON Lines) go through EvalAIAnswerProcessor first, as LLaVA's
    // scripts/convert_vqav2_for_submission.py does before uploading; submission files are scored
    // as they are.
    bool llavaSubmissionProcessing = true;
};

struct VqaV2Score {
    VqaAccuracy accuracy;
    Coverage coverage;
    bool llavaProcessed = false;  // the predictions went through EvalAIAnswerProcessor
};

// Matches predictions to the annotated questions by question id (a later duplicate replaces the
// earlier one, as vqa.py's index does) and scores the questions that have one, in annotation
// order. The official tool refuses a results file that does not cover every question; here the
// uncovered ones are counted in coverage.withoutPrediction and left out of every average.
VqaV2Score scoreVqaV2(const datasets::VqaV2Dataset& dataset, const datasets::PredictionFile& predictions,
                      const VqaV2Options& options = {});

struct TextVqaQuestionScore {
    std::string questionId;
    std::string prediction;
    double score = 0;           // unrounded, in [0, 1]
};

struct TextVqaScore {
    double accuracy = 0;        // sum / n, a fraction (print formatTextVqaPercent)
    std::vector<TextVqaQuestionScore> perQuestion;  // in prediction file order
    Coverage coverage;
    bool matchedByPrompt = false;  // eval_textvqa.py's (image id, question from the prompt) matching
};

// Scores every prediction in file order, as eval_textvqa.py does (a duplicated prediction counts
// twice there and here). A prediction with a "prompt" is matched like eval_textvqa.py: its
// question_id is the image id and the question is cut out of the prompt (promptQuestion); the
// last question of the dataset with that (image id, lower-cased question) wins. Without a prompt,
// the question_id is TextVQA's question id.
TextVqaScore scoreTextVqa(const datasets::TextVqaDataset& dataset, const datasets::PredictionFile& predictions);

// eval_textvqa.py's prompt_processor: the question inside a LLaVA TextVQA prompt, lower-cased.
// Throws datasets::ItemProblem for a prompt of none of its four shapes (the script asserts).
std::string textVqaPromptQuestion(std::string_view prompt);

// "61.23" as the tools print: vqaEval.py's "%.02f" of the rounded value, eval_textvqa.py's
// "{:.2f}" of 100 * accuracy.
std::string formatVqaPercent(double roundedPercent);
std::string formatTextVqaPercent(double accuracy);

}  // namespace tokenscope::metrics
