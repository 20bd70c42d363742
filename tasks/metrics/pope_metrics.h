#pragma once

// POPE's metrics exactly as haotian-liu/LLaVA llava/eval/eval_pope.py computes them (Python 3):
// each answer is read as yes or no (answer_processing.h: popeAnswerIsNo), a label is negative only
// when it is exactly "no", and with "yes" as the positive class
//   accuracy  = (TP + TN) / (TP + TN + FP + FN)
//   precision = TP / (TP + FP)          recall = TP / (TP + FN)
//   f1        = 2 * precision * recall / (precision + recall)
//   yes ratio = answers read as yes / answers
// as fractions. eval_pope.py prints them with str() (popeFormat: Python's repr) and then the line
// "%.3f, %.3f, %.3f, %.3f, %.3f" of f1, accuracy, precision, recall, yes ratio. Where it stops with
// ZeroDivisionError (no answer read as yes: precision; no "yes" label: recall; both zero: f1) the
// value here is 0 and the matching *Defined flag is false.
//
// Pairing, as eval_pope.py does it: answers and labels are paired by POSITION (zip: the longer list
// is cut, but the yes ratio counts every answer), not by question id; LLaVA's question ids run on
// across categories while each POPE label file counts from 1. With a LLaVA question file (which
// has "category"), a category's answers are those whose question has that category, in answers
// file order (eval_pope.py's main loop). Pure functions, any thread.

#include "tasks/metrics/score_common.h"

#include "tasks/datasets/jsonl_datasets.h"
#include "tasks/datasets/predictions.h"

#include <string>
#include <vector>

namespace tokenscope::metrics {

struct PopeMetrics {
    std::size_t truePositive = 0, falsePositive = 0, trueNegative = 0, falseNegative = 0;
    double accuracy = 0, precision = 0, recall = 0, f1 = 0, yesRatio = 0;
    bool precisionDefined = true, recallDefined = true, f1Defined = true;
};

// From the answers read as no (true) or yes (false) and the labels: pairs up to the shorter list,
// the yes ratio over all answers. Throws tokenscope::Error when there is no answer or no label.
PopeMetrics popeMetrics(const std::vector<bool>& answerIsNo, const std::vector<bool>& labelIsNo);

struct PopeAnswerScore {
    std::string questionId;   // the answer's
    std::string answer;       // its text
    bool answerIsNo = false;
    bool hasLabel = false;    // false for answers past the end of the label file
    std::string labelQuestionId;
    bool labelIsNo = false;
};

struct PopeScore {
    std::string category;     // "" when the answers were not filtered by category
    PopeMetrics metrics;
    std::vector<PopeAnswerScore> perAnswer;  // answers in order
    Coverage coverage;        // questions = labels; withoutPrediction = labels past the last answer;
                              // unmatched = answers past the last label
};

// eval_pope(answers, label_file). A label line without "label" is reported and left out. When the
// answers' ids are the labels' ids in another order, a note says so (the pairing stays positional).
PopeScore scorePope(const datasets::PopeDataset& labels, const std::vector<datasets::Prediction>& answers,
                    const std::string& answersPath = {});

// eval_pope.py's main loop: the answers of one category, found through the LLaVA question file.
// Answers whose question_id is not in it are reported in `errors` (eval_pope.py stops with KeyError).
std::vector<datasets::Prediction> popeCategoryAnswers(const datasets::PopeDataset& questionFile,
                                                      const datasets::PredictionFile& answers, const std::string& category,
                                                      std::vector<datasets::ItemError>& errors);

// eval_pope.py: a label file "coco_pope_<category>.json" holds that category ("" for another name).
std::string popeCategoryFromFileName(const std::string& path);

// str(x) of eval_pope.py's prints: "0.8571428571428571", "1.0".
std::string popeFormat(double fraction);
// Its summary line: "%.3f, %.3f, %.3f, %.3f, %.3f" % (f1, acc, precision, recall, yes_ratio).
std::string popeSummaryLine(const PopeMetrics& metrics);

}  // namespace tokenscope::metrics
