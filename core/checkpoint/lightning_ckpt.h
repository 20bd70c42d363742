#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/dtype.h"

namespace tokenscope {

// What a PyTorch Lightning checkpoint (.ckpt) holds for inference: the weights and the model's
// configuration. Lightning writes `torch.save(dict)` where the dict holds `state_dict` (name ->
// tensor) beside training bookkeeping (`epoch`, `global_step`, `pytorch-lightning_version`,
// `callbacks`, `optimizer_states`, `lr_schedulers`, `hyper_parameters`, ...); see Lightning's
// `CheckpointConnector.dump_checkpoint` (pytorch_lightning/trainer/connectors/
// checkpoint_connector.py).
struct LightningCheckpoint {
    // state_dict's tensors, exactly as parseTorchBin (torch_bin.h) returns a state dict's: dtype,
    // shape, strides and where the bytes lie in the buffer given (no byte of data is read).
    std::map<std::string, TensorInfo> tensors;
    // True when the top level was a checkpoint dict with a 'state_dict' entry; false when it was a
    // plain state dict (torch.save(model.state_dict(), "x.ckpt")).
    bool isLightning = false;
    // hyper_parameters["config"] (METER's `save_hyperparameters()` stores its sacred config there)
    // as JSON: None, bool, int, float (BINFLOAT included), str, list and tuple (arrays), dict with
    // str or int keys (objects). null when there is no such entry.
    nlohmann::json config;
    // What was left out of `config` and why, e.g. "config.lr: numpy.core.multiarray.scalar".
    // Dict entries are dropped; list elements become null so that positions are kept. At most
    // kMaxSkippedEntries lines, then one that counts the rest.
    std::vector<std::string> skippedConfigEntries;
};

// Limits of the config conversion; a config beyond them is refused (a real one is a few hundred
// values, nested three deep).
constexpr std::size_t kMaxConfigDepth = 64;
constexpr std::size_t kMaxConfigValues = std::size_t{1} << 20;
constexpr std::size_t kMaxSkippedEntries = 100;

// Parses a Lightning checkpoint (or a plain torch.save state dict, under any file name) held in
// memory, without executing anything. fileName is used in error messages only. Throws Error
// "<fileName>: <problem>" (the zip and tensor checks of torch_bin.h, plus a missing
// 'state_dict' in a Lightning checkpoint, a config past the limits above).
//
// The pickle runs under UnknownGlobals::Opaque (pickle_reader.h): the bookkeeping may name any
// class (ModelCheckpoint, argparse.Namespace, AttributeDict, torch.optim state, numpy scalars,
// _codecs.encode), and every such global becomes an opaque placeholder that nothing imports,
// constructs or calls; bookkeeping is then ignored. Inside `state_dict` every value must be a
// tensor: a global outside pickle_reader.h's allow-list there is refused with
// "<fileName>: refuses to load: the pickle names the global 'os.system', which is not part of a
// tensor state dict (state_dict entry '<name>')". Only state_dict's tensors are checked against
// the archive; tensors elsewhere (optimizer moments) are neither checked nor returned.
// `hyper_parameters` may be a dict, an AttributeDict (its items) or an argparse.Namespace (its
// attributes). The pickle limits (values, stack, memo, marks) hold; nothing recurses.
LightningCheckpoint parseLightningCheckpoint(const uint8_t* bytes, std::size_t size, const std::string& fileName);

// parseLightningCheckpoint on a memory-mapped file; the mapping is released on return, so the
// result lists names, dtypes and shapes (offsets refer to the file) without reading the weights.
// Throws Error naming the file.
LightningCheckpoint readLightningCheckpointFile(const std::string& path);

}  // namespace tokenscope
