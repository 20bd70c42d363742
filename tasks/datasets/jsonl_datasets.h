#pragma once

// Readers for the datasets distributed as JSON Lines (one JSON object a line), into plain structs.
// Errors as dataset_file.h describes: a line that does not parse or lacks a field becomes an
// ItemError naming the file and the line, and the other lines are read.
//
// POPE (github.com/AoiDragon/POPE output/coco/coco_pope_<category>.json, JSON Lines despite the
//   name): {"question_id", "image", "text", "label": "yes"|"no"}; LLaVA's llava_pope_test.jsonl has
//   "category" and no label. Labels are kept as written (eval_pope.py counts anything but "no" as yes).
// NLVR2 (github.com/lil-lab/nlvr nlvr2/data/<split>.json, JSON Lines): {"identifier", "sentence",
//   "label": "True"|"False", ...}. The identifier is split-set_id-pair_id-sentence_id; the pair's
//   images are split-set_id-pair_id-img0.png and -img1.png (nlvr2/README.md).
// Plain: {"image", "question", "answers": [..] or "..." (optional), "id" (optional; default: the
//   1-based line number)}.

#include "tasks/datasets/dataset_file.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tokenscope::datasets {

struct PopeQuestion {
    std::string questionId;
    std::string image;                  // "COCO_val2014_000000310196.jpg"
    std::string text;                   // "Is there a snowboard in the image?"
    std::optional<std::string> label;   // "yes" | "no"
    std::string category;               // LLaVA's question file: "adversarial" | "popular" | "random"
};

struct PopeDataset {
    std::string path;
    std::vector<PopeQuestion> questions;
    std::vector<ItemError> errors;
};

PopeDataset readPope(const std::string& path);

struct Nlvr2Example {
    std::string identifier;             // "dev-850-0-0"
    std::string split;                  // "dev"
    std::string sentence;
    std::string label;                  // as written: "True" | "False" (JSON booleans become these)
    std::string leftImage;              // "dev-850-0-img0.png"
    std::string rightImage;             // "dev-850-0-img1.png"
};

struct Nlvr2Dataset {
    std::string path;
    std::vector<Nlvr2Example> examples;
    std::vector<ItemError> errors;
};

Nlvr2Dataset readNlvr2(const std::string& path);
// The pair's image files from an identifier; throws ItemProblem unless it has four '-' parts.
std::pair<std::string, std::string> nlvr2ImageFiles(const std::string& identifier);

struct PlainQuestion {
    std::string id;
    std::string image;
    std::string question;
    std::vector<std::string> answers;   // empty when the line has none
};

struct PlainDataset {
    std::string path;
    std::vector<PlainQuestion> questions;
    std::vector<ItemError> errors;
};

PlainDataset readPlainJsonl(const std::string& path);

}  // namespace tokenscope::datasets
