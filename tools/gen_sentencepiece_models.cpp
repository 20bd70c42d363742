// Trains the SentencePiece models of the test data and of the bundled tiny LLaVA-NeXT folder with
// libsentencepiece's own trainer (Debian's libsentencepiece-dev), so that they are real
// `tokenizer.model` files and the parity test compares against real models, not hand-made ones.
// Build and run it with tools/gen_sentencepiece_models.sh; it writes
//   tests/data/sentencepiece/bpe_byte_fallback.model   LLaMA's settings: BPE, byte_fallback,
//                                                     identity normaliser, spaces kept, split digits
//   tests/data/sentencepiece/unigram_nfkc.model        UNIGRAM, nmt_nfkc character map, extra spaces
//                                                     removed, user-defined and control symbols, <pad>
//   tests/data/sentencepiece/bpe_user_defined.model    BPE without byte fallback, identity, extra
//                                                     spaces removed, user-defined "<image>", "[INST]",
//                                                     "[/INST]"
//   resources/models/llava-next-tiny-random/tokenizer.model
//                                                     BPE, 95 pieces (ids 0..94: unk 0, bos 1, eos 2),
//                                                     identity, no byte fallback (256 bytes do not fit)
// from tests/data/sentencepiece/corpus.txt (and, for the tiny one, prompts built here). The trainer
// runs on one thread over the whole corpus in order, so the output is reproducible with the same
// libsentencepiece version (0.1.97 in Debian 12).
#include <sentencepiece_trainer.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

class VectorIterator : public sentencepiece::SentenceIterator {
public:
    explicit VectorIterator(std::vector<std::string> lines) : m_lines(std::move(lines)) {}
    bool done() const override { return m_index >= m_lines.size(); }
    void Next() override { ++m_index; }
    const std::string& value() const override { return m_lines[m_index]; }
    sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

private:
    std::vector<std::string> m_lines;
    std::size_t m_index = 0;
};

std::vector<std::string> readLines(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::cerr << path << ": cannot open\n";
        std::exit(1);
    }
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) lines.push_back(line);
    }
    return lines;
}

void train(const std::string& out, std::unordered_map<std::string, std::string> args, std::vector<std::string> lines) {
    args["num_threads"] = "1";
    args["shuffle_input_sentence"] = "false";
    args["minloglevel"] = "2";
    VectorIterator iterator(std::move(lines));
    std::string model;
    const auto status = sentencepiece::SentencePieceTrainer::Train(args, &iterator, &model);
    if (!status.ok()) {
        std::cerr << out << ": training failed: " << status.ToString() << "\n";
        std::exit(1);
    }
    std::ofstream(out, std::ios::binary) << model;
    std::cout << out << ": " << model.size() << " bytes\n";
}

// The chunks the tiny model sees: the text on each side of "<image>" in the vicuna and mistral
// prompts around some short questions.
std::vector<std::string> tinyPromptChunks() {
    const std::vector<std::string> questions = {
        "What is shown in this image?", "What is the man doing?", "Where is the cat?",
        "What color is the car?", "How many people are there?", "Describe the image.",
        "Is there a dog in the picture?", "What is on the table?", "Who is holding the ball?",
        "What does the sign say?", "Why is the street wet?", "Which animal is this?",
    };
    std::vector<std::string> chunks;
    for (int repeat = 0; repeat < 4; ++repeat) {
        chunks.push_back("A chat between a curious human and an artificial intelligence assistant. The assistant "
                         "gives helpful, detailed, and polite answers to the human's questions. USER: ");
        chunks.push_back("[INST] ");
        for (const auto& q : questions) {
            chunks.push_back("\n" + q + " ASSISTANT:");
            chunks.push_back("\n" + q + " [/INST]");
            chunks.push_back(q);
        }
    }
    return chunks;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string root = argc > 1 ? argv[1] : ".";
    const std::string data = root + "/tests/data/sentencepiece";
    const std::vector<std::string> corpus = readLines(data + "/corpus.txt");

    train(data + "/bpe_byte_fallback.model",
          {{"model_type", "bpe"}, {"vocab_size", "700"}, {"byte_fallback", "true"}, {"split_digits", "true"},
           {"allow_whitespace_only_pieces", "true"}, {"remove_extra_whitespaces", "false"},
           {"normalization_rule_name", "identity"}, {"character_coverage", "0.9995"},
           {"max_sentencepiece_length", "16"}, {"unk_id", "0"}, {"bos_id", "1"}, {"eos_id", "2"}, {"pad_id", "-1"}},
          corpus);
    train(data + "/unigram_nfkc.model",
          {{"model_type", "unigram"}, {"vocab_size", "500"}, {"character_coverage", "0.995"},
           {"user_defined_symbols", "<sep>,<cls>,@@"}, {"control_symbols", "<ctrl>"},
           {"unk_id", "0"}, {"bos_id", "1"}, {"eos_id", "2"}, {"pad_id", "3"}},
          corpus);
    train(data + "/bpe_user_defined.model",
          {{"model_type", "bpe"}, {"vocab_size", "400"}, {"normalization_rule_name", "identity"},
           {"character_coverage", "0.999"}, {"user_defined_symbols", "<image>,[INST],[/INST]"}},
          corpus);
    train(root + "/resources/models/llava-next-tiny-random/tokenizer.model",
          {{"model_type", "bpe"}, {"vocab_size", "95"}, {"normalization_rule_name", "identity"},
           {"remove_extra_whitespaces", "false"}, {"character_coverage", "1.0"}, {"byte_fallback", "false"},
           {"split_digits", "true"}, {"unk_id", "0"}, {"bos_id", "1"}, {"eos_id", "2"}, {"pad_id", "-1"}},
          tinyPromptChunks());
    return 0;
}
