#include "engine/convert.h"

#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file.h"
#include "common/error.h"
#include "config/id2label.h"
#include "config/meter_config_json.h"
#include "config/model_config.h"
#include "families/meter_runtime.h"
#include "io/json_file.h"

namespace tokenscope {

namespace fs = std::filesystem;

ConvertReport convertModelFolder(const std::string& folder, const std::string& out) {
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) throw Error(folder + ": not a model folder");
    if (fs::exists(out, ec) && fs::equivalent(folder, out, ec)) throw Error(out + ": the converted model needs another folder");
    const fs::path target(out);
    if (fs::exists(target / "model.safetensors", ec))
        throw Error((target / "model.safetensors").string() + " already exists; choose an empty folder");
    const fs::path root(folder);

    const Checkpoint checkpoint = Checkpoint::open(folder);
    const bool isMeter = isMeterFolder(folder);
    nlohmann::json config;
    if (isMeter) {
        const ModelConfig model = meterModelConfig(folder, checkpoint);
        std::vector<std::string> labels;
        if (fs::exists(root / "config.json", ec)) {
            const auto own = nlohmann::json::parse(readTextFile((root / "config.json").string(), "the model config"));
            if (own.value("model_type", "") == "meter") labels = parseId2Label(own, (root / "config.json").string());
        }
        config = meterConfigJson(model.meter, labels);
    } else {
        // Checks that the folder is a model TokenScope loads before anything is written.
        loadModelConfig((root / "config.json").string());
    }

    fs::create_directories(target, ec);
    if (ec) throw Error(out + ": cannot create the folder: " + ec.message());
    ConvertReport report;
    const auto copy = [&](const fs::path& from) {
        fs::copy_file(from, target / from.filename(), fs::copy_options::overwrite_existing, ec);
        if (ec) throw Error((target / from.filename()).string() + ": cannot write: " + ec.message());
        report.copied.push_back(from.filename().string());
    };
    if (isMeter) {
        std::ofstream file(target / "config.json");
        file << config.dump(2) << "\n";
        if (!file) throw Error((target / "config.json").string() + ": cannot write");
        report.copied.push_back("config.json");
    } else {
        copy(root / "config.json");
    }
    for (const char* name : {"vocab.txt", "vocab.json", "merges.txt", "tokenizer.model", "tokenizer.json",
                             "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                             "preprocessor_config.json", "generation_config.json"}) {
        if (fs::exists(root / name, ec)) copy(root / name);
    }

    std::map<std::string, torch::Tensor> tensors;
    for (const auto& name : checkpoint.names()) tensors[name] = checkpoint.tensor(name);
    writeTensorFile((target / "model.safetensors").string(), tensors,
                    {{"format", "pt"}, {"converted_by", "tokenscope-cli convert"}});
    report.tensors = tensors.size();
    report.bytes = fs::file_size(target / "model.safetensors", ec);
    return report;
}

}  // namespace tokenscope
