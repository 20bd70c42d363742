#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "common/dtype.h"

namespace tokenscope {

// Parses a torch.save zip in memory into tensor records, without executing anything.
// fileName is used in error messages only. Throws Error.
//
// Accepts what `torch.save(model.state_dict(), f)` writes with torch >= 1.6 (zip format): one
// top folder of any name holding data.pkl (a dict or OrderedDict of name -> tensor, tensors as
// _rebuild_tensor_v2 or _rebuild_parameter) and data/<key> storages, stored uncompressed,
// little-endian, ZIP64 or not. Refuses the legacy (pre-1.6) format, TorchScript archives,
// big-endian files, compressed members, any pickle global outside the allow-list of
// pickle_reader.h, and any tensor whose bytes would fall outside its storage.
//
// Each TensorInfo points into `bytes`: byteOffset is from the start of the buffer (= file) to
// element 0 and byteLength is what is left of the storage from there, so the caller can mmap the
// file and hand the range to torch without copying. Tensors may share a storage and may be
// non-contiguous (strides are kept as stored, in elements, all >= 0). Offsets are not
// necessarily aligned to the element size. Nothing is kept after the call returns.
std::map<std::string, TensorInfo> parseTorchBin(const uint8_t* bytes, std::size_t size, const std::string& fileName);

}  // namespace tokenscope
