#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "checkpoint/pickle_reader.h"
#include "checkpoint/zip_reader.h"
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

// The torch.save zip container that parseTorchBin and the Lightning reader (lightning_ckpt.h)
// share. The constructor checks the format (a zip, not the legacy format or a bare pickle), the
// one top folder, the byte order and that "<folder>/data.pkl" exists. It does not copy the file:
// `bytes` must outlive the object. Throws Error "<fileName>: <problem>".
class TorchArchive {
public:
    TorchArchive(const uint8_t* bytes, std::size_t size, const std::string& fileName);

    // Runs the restricted unpickler of pickle_reader.h over data.pkl (limits as there).
    PickleDocument readPickle(UnknownGlobals unknownGlobals) const;
    // Validates one tensor of `doc` (its storage "<folder>/data/<key>" exists and holds the
    // storage's claimed size, the view lies inside it, no negative size/stride/offset, no
    // overflow) and returns where its bytes lie in the buffer, as parseTorchBin documents. Throws
    // Error "<fileName>: tensor '<name>' ...".
    TensorInfo tensorInfo(const std::string& name, const PickleTensor& tensor, const PickleDocument& doc) const;
    // The tensors of the dict doc.value(dictIndex) (name -> tensor, each checked by tensorInfo).
    // `what` names the dict in messages ("state dict"); `hint` follows "not a tensor". Throws Error
    // when the value is not a dict, a key is not a string, a value is not a tensor, or a name
    // comes twice; an opaque value made from a global outside the allow-list (UnknownGlobals::
    // Opaque) gets refusedGlobalMessage naming the global, then " (<what> entry '<name>')".
    std::map<std::string, TensorInfo> tensorsOf(const PickleDocument& doc, std::size_t dictIndex,
                                                const std::string& what, const std::string& hint = "") const;
    // The message for doc.value(index) where `expected` ("a tensor") was needed:
    // "<fileName>: <what> is a <kind>, not <expected>", or for an opaque value what made it (the
    // refused global as refusedGlobalMessage, the bad arguments, the unsupported kind).
    std::string unexpectedValue(const PickleDocument& doc, std::size_t index, const std::string& what,
                                const std::string& expected) const;

    const std::string& fileName() const { return m_fileName; }
    const std::string& folder() const { return m_folder; }

private:
    [[noreturn]] void fail(const std::string& problem) const;

    std::string m_fileName;
    ZipReader m_zip;
    std::string m_folder;
    const ZipEntry* m_pickle = nullptr;
};

}  // namespace tokenscope
