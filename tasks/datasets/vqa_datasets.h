#pragma once

// Readers for the question-answering datasets' own files, as their authors distribute them, into
// plain structs (ids as text: 42 -> "42"). Errors as dataset_file.h describes: a malformed file
// throws tokenscope::Error naming it, a bad item becomes an ItemError and the rest is read.
//
// VQAv2 (visualqa.org; GT-Vision-Lab/VQA PythonHelperTools/vqaTools/vqa.py reads the same files):
//   v2_OpenEnded_mscoco_<subtype>_questions.json  {"data_subtype", "questions": [{"question_id",
//                                                  "image_id", "question"}], ...}
//   v2_mscoco_<subtype>_annotations.json           {"data_subtype", "annotations": [{"question_id",
//                                                  "image_id", "question_type", "answer_type",
//                                                  "multiple_choice_answer", "answers": [{"answer",
//                                                  "answer_confidence", "answer_id"}]}], ...}
//   Either file alone or both. Order: the annotations' (the order vqaEval.py sums in), else the
//   questions'. Image file: COCO_<subtype>_<image_id, 12 digits>.jpg with the subtype of the file's
//   data_subtype ("test-dev2015" images live in test2015 and are named so). Answer types other
//   than "yes/no", "number", "other" are kept and reported (skipped = false).
// TextVQA 0.5.1 (textvqa.org): TextVQA_0.5.1_<split>.json {"dataset_version", "data": [{"question_id",
//   "image_id", "question", "answers": [10 strings]}]}; image file <image_id>.jpg; test items have
//   no answers.
// GQA (cs.stanford.edu/people/dorarad/gqa): <tier>_balanced_questions.json, a dictionary question id
//   -> {"imageId", "question", "answer", "fullAnswer", "isBalanced", "types": {"structural",
//   "semantic", "detailed"}, ...}, read in file order; image file <imageId>.jpg; test questions
//   have no answer. isBalanced defaults to true when absent.

#include "tasks/datasets/dataset_file.h"

#include <optional>
#include <string>
#include <vector>

namespace tokenscope::datasets {

// One annotator's answer. Confidence and id are kept because vqaEval.py compares whole answer
// records when it leaves one annotator out (two identical records are left out together).
struct VqaAnswer {
    std::string answer;
    std::optional<std::string> confidence;  // "yes" | "maybe" | "no"
    std::optional<long long> answerId;      // 1..10
};

struct VqaV2Question {
    std::string questionId;
    long long imageId = 0;
    std::string imageFile;              // "COCO_val2014_000000262148.jpg"; "" when no data_subtype was found
    std::string question;               // "" when only the annotations were read
    std::string questionType;           // "what color is the" (annotations)
    std::string answerType;             // "yes/no" | "number" | "other" (annotations)
    std::string multipleChoiceAnswer;   // the most common answer (annotations)
    std::vector<VqaAnswer> answers;     // empty without annotations
};

struct VqaV2Dataset {
    std::string questionsPath, annotationsPath;
    std::string dataSubtype;            // "val2014"
    bool hasAnnotations = false;
    std::vector<VqaV2Question> questions;
    std::vector<ItemError> errors;
};

// questionsPath or annotationsPath may be "" (not both).
VqaV2Dataset readVqaV2(const std::string& questionsPath, const std::string& annotationsPath);
// "COCO_val2014_000000262148.jpg"; the test-dev subtype names test2015 files.
std::string cocoImageFile(const std::string& dataSubtype, long long imageId);

struct TextVqaQuestion {
    std::string questionId;
    std::string imageId;                // "003a8ae2ef43b901"
    std::string imageFile;              // "003a8ae2ef43b901.jpg"
    std::string question;
    std::vector<std::string> answers;   // 10 in train/val, none in test
};

struct TextVqaDataset {
    std::string path;
    std::string version;                // "0.5.1"
    std::vector<TextVqaQuestion> questions;
    std::vector<ItemError> errors;
};

TextVqaDataset readTextVqa(const std::string& path);

struct GqaQuestion {
    std::string questionId;
    std::string imageId;
    std::string imageFile;              // "<imageId>.jpg"
    std::string question;
    std::optional<std::string> answer;  // absent in test files
    std::string fullAnswer;
    bool isBalanced = true;
    std::string structuralType;         // verify | query | choose | logical | compare ("" when absent)
    std::string semanticType;           // obj | attr | rel | cat | global
    std::string detailedType;
};

struct GqaDataset {
    std::string path;
    std::vector<GqaQuestion> questions;
    std::vector<ItemError> errors;
};

GqaDataset readGqa(const std::string& path);

}  // namespace tokenscope::datasets
