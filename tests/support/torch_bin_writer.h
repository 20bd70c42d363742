#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/dtype.h"

// Test-only writers for torch.save-style files, so that the reader can be tested without Python
// or PyTorch. Byte layouts follow what CPython's pickler (protocol 2) and PyTorch's
// PyTorchStreamWriter (miniz, stored entries aligned to 64 bytes) produce. Nothing here
// validates its input: negative tests rely on writing what torch never would.
namespace tokenscope::testing {

using Bytes = std::vector<uint8_t>;

uint32_t crc32(const uint8_t* data, std::size_t size);

// A ZIP archive in memory. Entries are stored (method 0) with their data aligned to `alignment`
// bytes via an "FB" padding record in the local extra field, as PyTorch does.
class ZipWriter {
public:
    // method != 0 only marks the entry as compressed (the content stays as given).
    void add(const std::string& name, Bytes content, uint16_t method = 0);
    // zip64: sizes and offsets go to zip64 extra fields (the 32-bit fields saturated to
    // 0xffffffff), plus a zip64 end-of-central-directory record and locator; exercises the ZIP64
    // paths without a 4 GiB file.
    Bytes finish(bool zip64 = false, std::size_t alignment = 64) const;

private:
    struct Entry {
        std::string name;
        Bytes content;
        uint16_t method;
    };
    std::vector<Entry> m_entries;
};

// Appends pickle opcodes. Memo indices are handed out in order, as CPython does.
class PickleWriter {
public:
    PickleWriter& proto(uint8_t version = 2);
    PickleWriter& stop();
    PickleWriter& mark();
    PickleWriter& global(const std::string& module, const std::string& name);
    // GLOBAL the first time, BINGET of its memo entry afterwards (what CPython emits).
    PickleWriter& memoizedGlobal(const std::string& module, const std::string& name);
    PickleWriter& string(const std::string& text);  // BINUNICODE
    PickleWriter& integer(int64_t value);           // BININT1 / BININT2 / BININT / LONG1
    PickleWriter& boolean(bool value);
    PickleWriter& binFloat(double value);  // BINFLOAT (big-endian IEEE 754 double)
    PickleWriter& none();
    PickleWriter& emptyTuple();
    PickleWriter& tuple();                  // TUPLE (from MARK)
    PickleWriter& tupleN(std::size_t count);  // TUPLE1 / TUPLE2 / TUPLE3
    PickleWriter& emptyList();
    PickleWriter& append();
    PickleWriter& emptyDict();
    PickleWriter& setItem();
    PickleWriter& setItems();
    PickleWriter& reduce();
    PickleWriter& newObj();  // NEWOBJ
    PickleWriter& build();
    PickleWriter& binPersId();
    // BINPUT / LONG_BINPUT with the next memo index; returns that index.
    std::size_t put();
    PickleWriter& get(std::size_t index);  // BINGET / LONG_BINGET
    PickleWriter& raw(const Bytes& bytes);
    PickleWriter& raw(std::initializer_list<uint8_t> bytes);

    const Bytes& bytes() const { return m_bytes; }

private:
    Bytes m_bytes;
    std::size_t m_nextMemo = 0;
    std::map<std::string, std::size_t> m_globals;
};

// One tensor of a state dict, viewing a storage added with TorchBinWriter::addStorage.
struct TorchBinTensor {
    std::string name;
    std::string storageKey;
    std::vector<int64_t> shape;
    std::vector<int64_t> strides;  // empty: contiguous
    int64_t storageOffset = 0;     // elements
    bool asParameter = false;      // wrap in torch._utils._rebuild_parameter
};

// Writes what torch.save(state_dict) writes: an OrderedDict of _rebuild_tensor_v2 tensors with
// BINPERSID storages, SETITEMS in batches of 1000, a BUILD with _metadata, and one
// "<folder>/data/<key>" entry per storage.
class TorchBinWriter {
public:
    explicit TorchBinWriter(std::string folder = "archive");

    // The storage's element count is bytes.size() / dtypeSize(dtype), rounded down.
    void addStorage(const std::string& key, DType dtype, Bytes bytes);
    void addTensor(TorchBinTensor tensor);
    // A tensor with its own contiguous storage of pattern bytes (key "0", "1", ...).
    void addContiguous(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                       bool asParameter = false);

    void setZip64(bool zip64) { m_zip64 = zip64; }
    // "" writes no byteorder record (torch < 1.13).
    void setByteOrder(std::string order) { m_byteOrder = std::move(order); }

    Bytes pickle() const;  // data.pkl
    Bytes write() const;   // the whole archive

    // What Lightning's torch.save(checkpoint) writes: a dict {"epoch": 0, "global_step": 0,
    // "pytorch-lightning_version": "1.3.2", "state_dict": <the state dict above>, <entries>}
    // filled by one SETITEMS, where `entries` pushes further key/value pairs onto `p`.
    Bytes lightningPickle(const std::function<void(PickleWriter& p)>& entries = {}) const;
    Bytes writeLightning(const std::function<void(PickleWriter& p)>& entries = {}) const;
    // The archive around any data.pkl, with this writer's storages.
    Bytes archive(const Bytes& pickle) const;
    const Bytes& storageBytes(const std::string& key) const { return m_storages.at(key).bytes; }

private:
    struct Storage {
        DType dtype;
        Bytes bytes;
    };
    // The OrderedDict of tensors (with its _metadata BUILD), pushed onto p.
    void emitStateDict(PickleWriter& p) const;
    std::string m_folder;
    std::map<std::string, Storage> m_storages;
    std::vector<std::string> m_storageOrder;
    std::vector<TorchBinTensor> m_tensors;
    bool m_zip64 = false;
    std::string m_byteOrder = "little";
};

// Deterministic, key-dependent filler so that a wrong offset shows up as wrong bytes.
Bytes patternBytes(std::size_t size, uint8_t seed);

// A torch.save-like archive around a hand-made data.pkl: "<folder>/data.pkl", the given
// "<folder>/data/<key>" storages, "<folder>/version".
Bytes makeTorchZip(const Bytes& pickle, const std::vector<std::pair<std::string, Bytes>>& storages = {},
                   const std::string& folder = "archive");

// A data.pkl whose top object is `module.name("x")`, i.e. what a malicious file looks like.
Bytes makeGlobalCallPickle(const std::string& module, const std::string& name);
// Pushes `module.name(argument)` (GLOBAL, the string, TUPLE1, REDUCE), what an object whose
// __reduce__ returns (module.name, (argument,)) pickles to.
void pushGlobalCall(PickleWriter& p, const std::string& module, const std::string& name, const std::string& argument);

}  // namespace tokenscope::testing
