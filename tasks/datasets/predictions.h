#pragma once

// Prediction files as the usual tools write them, into one list of (question id, answer text).
// The format is recognised from the content:
//
//   VQAv2 submission (visualqa.org, the results file vqaEval.py reads):
//       JSON list [{"question_id": 42, "answer": "two"}, ...]
//   GQA submission (GQA's eval.py; what LLaVA's scripts/convert_gqa_for_eval.py writes):
//       JSON list [{"questionId": "20968379", "prediction": "yes"}, ...]
//   LLaVA answers (llava/eval/model_vqa*.py, one JSON object a line):
//       {"question_id": 42, "text": "Two.", "prompt": "...", ...}; "prompt" is kept (TextVQA
//       matches on it the way eval_textvqa.py does)
//   NLVR2 CSV (lil-lab/nlvr nlvr2/eval/metrics.py): lines "identifier,prediction"; like
//       metrics.py the line is stripped and the second comma-separated field is the prediction;
//       a first line "identifier,..." is taken for a header and skipped
//
// A file that starts with '[' is a JSON list, with '{' JSON Lines, anything else CSV. Errors as
// dataset_file.h describes; duplicate ids are all kept here (the scorers decide, as the official
// tools do).

#include "tasks/datasets/dataset_file.h"

#include <optional>
#include <string>
#include <vector>

namespace tokenscope::datasets {

enum class PredictionFormat { VqaSubmission, GqaSubmission, LlavaAnswers, Nlvr2Csv };
const char* predictionFormatName(PredictionFormat format);  // "VQAv2 submission", ...

struct Prediction {
    std::string questionId;             // 42 -> "42"
    std::string answer;                 // "answer" / "prediction" / "text" / the CSV's second field
    std::optional<std::string> prompt;  // LLaVA's "prompt", when the line has one
    std::string where;                  // "item 3" (JSON list, 0-based) or "line 4" (1-based)
};

struct PredictionFile {
    std::string path;
    PredictionFormat format = PredictionFormat::LlavaAnswers;
    std::vector<Prediction> predictions;  // in file order
    std::vector<ItemError> errors;
};

PredictionFile readPredictions(const std::string& path);

}  // namespace tokenscope::datasets
