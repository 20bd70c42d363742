#include "checkpoint/torch_bin.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>

#include "checkpoint/pickle_reader.h"
#include "checkpoint/zip_reader.h"
#include "common/error.h"

namespace tokenscope {

namespace {

// What the legacy (pre-1.6) torch.save writes first: pickle protocol 2, LONG1 of 10 bytes,
// the magic number 0x1950a86a20f9469cfc6c.
constexpr uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

bool startsWith(const uint8_t* bytes, std::size_t size, const void* prefix, std::size_t prefixSize) {
    return size >= prefixSize && std::memcmp(bytes, prefix, prefixSize) == 0;
}

std::string printable(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size() && i < 200; ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        out += (byte >= 0x20 && byte < 0x7f) ? text[i] : '?';
    }
    if (text.size() > 200) out += "...";
    return out;
}

class StateDictReader {
public:
    StateDictReader(const uint8_t* bytes, std::size_t size, const std::string& fileName)
        : m_bytes(bytes), m_size(size), m_fileName(fileName) {}

    std::map<std::string, TensorInfo> read();

private:
    [[noreturn]] void fail(const std::string& problem) const { throw Error(m_fileName + ": " + problem); }
    void checkFormat() const;
    void checkByteOrder(const ZipReader& zip, const std::string& folder) const;
    TensorInfo tensorInfo(const std::string& name, const PickleTensor& tensor, const PickleDocument& doc,
                          const ZipReader& zip, const std::string& folder) const;

    const uint8_t* m_bytes;
    std::size_t m_size;
    const std::string& m_fileName;
};

void StateDictReader::checkFormat() const {
    if (startsWith(m_bytes, m_size, "PK\x03\x04", 4) || startsWith(m_bytes, m_size, "PK\x05\x06", 4)) return;
    if (startsWith(m_bytes, m_size, kLegacyMagic, sizeof kLegacyMagic)) {
        fail("uses the legacy torch.save format (PyTorch < 1.6), which is not supported; re-save it with a "
             "newer PyTorch (torch.save(torch.load(f), f)) or convert it to safetensors");
    }
    if (m_size > 0 && m_bytes[0] == 0x80) {
        fail("is a bare pickle, not a torch.save zip archive (legacy torch.save or pickle.dump?); "
             "re-save it with PyTorch >= 1.6 or convert it to safetensors");
    }
    fail("not a torch.save checkpoint: it does not start with a zip signature ('PK')");
}

void StateDictReader::checkByteOrder(const ZipReader& zip, const std::string& folder) const {
    const ZipEntry* entry = zip.find(folder + "/byteorder");
    if (entry == nullptr) return;  // written since torch 1.13; older files are little-endian
    const std::string_view order(reinterpret_cast<const char*>(zip.data(*entry)),
                                 static_cast<std::size_t>(std::min<uint64_t>(entry->size, 16)));
    if (order == "little") return;
    if (order == "big") fail("was saved on a big-endian machine; only little-endian checkpoints are supported");
    fail("unknown byte order '" + printable(order) + "' in " + folder + "/byteorder");
}

TensorInfo StateDictReader::tensorInfo(const std::string& name, const PickleTensor& tensor,
                                       const PickleDocument& doc, const ZipReader& zip,
                                       const std::string& folder) const {
    const std::string what = "tensor '" + printable(name) + "'";
    const PickleStorage& storage = doc.storages().at(tensor.storage);
    const ZipEntry* entry = zip.find(folder + "/data/" + storage.key);
    if (entry == nullptr) {
        fail(what + " uses storage '" + printable(storage.key) + "', but the archive has no entry '" +
             printable(folder) + "/data/" + printable(storage.key) + "'");
    }

    const uint64_t elementSize = dtypeSize(storage.dtype);
    uint64_t storageBytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(storage.numel), elementSize, &storageBytes) ||
        storageBytes > entry->size) {
        fail(what + ": storage '" + printable(storage.key) + "' claims " + std::to_string(storage.numel) +
             " elements of " + std::string(dtypeName(storage.dtype)) + " but its entry holds only " +
             std::to_string(entry->size) + " bytes");
    }
    const uint64_t storageNumel = static_cast<uint64_t>(storage.numel);

    if (tensor.storageOffset < 0) fail(what + " has a negative storage offset");
    bool isEmpty = false;
    int64_t elementCount = 1;
    for (std::size_t dim = 0; dim < tensor.shape.size(); ++dim) {
        if (tensor.shape[dim] < 0) {
            fail(what + " has a negative size " + std::to_string(tensor.shape[dim]) + " in dimension " +
                 std::to_string(dim));
        }
        if (tensor.strides[dim] < 0) {
            fail(what + " has a negative stride " + std::to_string(tensor.strides[dim]) + " in dimension " +
                 std::to_string(dim));
        }
        if (tensor.shape[dim] == 0) isEmpty = true;
        if (__builtin_mul_overflow(elementCount, tensor.shape[dim], &elementCount)) {
            fail(what + " has more elements than fit in 64 bits");
        }
    }

    // Element indices reach from storageOffset to storageOffset + sum((size - 1) * stride); all
    // of it must lie inside the storage. An empty tensor touches nothing but must still start
    // inside (or at the end of) its storage.
    const uint64_t offset = static_cast<uint64_t>(tensor.storageOffset);
    if (offset > storageNumel) {
        fail(what + " starts at element " + std::to_string(offset) + " of storage '" + printable(storage.key) +
             "', which has only " + std::to_string(storageNumel) + " elements");
    }
    if (!isEmpty) {
        uint64_t lastIndex = offset;
        bool overflow = false;
        for (std::size_t dim = 0; dim < tensor.shape.size(); ++dim) {
            uint64_t span = 0;
            overflow |= __builtin_mul_overflow(static_cast<uint64_t>(tensor.shape[dim] - 1),
                                               static_cast<uint64_t>(tensor.strides[dim]), &span);
            overflow |= __builtin_add_overflow(lastIndex, span, &lastIndex);
        }
        if (overflow || lastIndex >= storageNumel) {
            fail(what + " reaches past the end of storage '" + printable(storage.key) + "' (" +
                 std::to_string(storageNumel) + " elements of " + std::string(dtypeName(storage.dtype)) + ")");
        }
    }

    TensorInfo info;
    info.dtype = storage.dtype;
    info.shape = tensor.shape;
    info.strides = tensor.strides;
    // offset <= storageNumel, so offset * elementSize <= storageBytes <= entry size: no overflow,
    // and the sum stays inside the file because the zip reader checked the entry's range.
    info.byteOffset = entry->dataOffset + offset * elementSize;
    info.byteLength = storageBytes - offset * elementSize;
    return info;
}

std::map<std::string, TensorInfo> StateDictReader::read() {
    checkFormat();
    const ZipReader zip(m_bytes, m_size, m_fileName);
    if (zip.entries().empty()) fail("the zip archive is empty; a torch.save checkpoint holds data.pkl");

    // All members live under one folder of any name; torch.save writes data.pkl first.
    const std::string& firstName = zip.entries().front().name;
    const std::size_t slash = firstName.find('/');
    if (slash == std::string::npos || slash == 0) {
        fail("zip entry '" + printable(firstName) + "' is not inside a folder; not a torch.save checkpoint");
    }
    const std::string folder = firstName.substr(0, slash);

    checkByteOrder(zip, folder);
    const ZipEntry* pickle = zip.find(folder + "/data.pkl");
    if (pickle == nullptr) {
        fail("no '" + printable(folder) + "/data.pkl' in the zip archive; not a torch.save checkpoint");
    }

    const PickleDocument doc = readPickle(zip.data(*pickle), static_cast<std::size_t>(pickle->size), m_fileName,
                                          folder + "/data.pkl");
    const PickleValue& root = doc.value(doc.root());
    if (root.kind != PickleKind::Dict) {
        fail("data.pkl holds a " + std::string(pickleKindName(root.kind)) + ", not a state dict of tensors");
    }

    std::map<std::string, TensorInfo> tensors;
    for (std::size_t i = 0; i + 1 < root.items.size(); i += 2) {
        const PickleValue& key = doc.value(root.items[i]);
        const PickleValue& value = doc.value(root.items[i + 1]);
        if (key.kind != PickleKind::String) {
            fail("state dict key " + std::to_string(i / 2) + " is a " + std::string(pickleKindName(key.kind)) +
                 ", not a string");
        }
        if (value.kind != PickleKind::Tensor) {
            fail("state dict entry '" + printable(key.text) + "' is a " + std::string(pickleKindName(value.kind)) +
                 ", not a tensor (a training checkpoint rather than a state dict?)");
        }
        const PickleTensor& tensor = doc.tensors().at(static_cast<std::size_t>(value.integer));
        if (!tensors.emplace(key.text, tensorInfo(key.text, tensor, doc, zip, folder)).second) {
            fail("state dict names tensor '" + printable(key.text) + "' twice");
        }
    }
    return tensors;
}

}  // namespace

std::map<std::string, TensorInfo> parseTorchBin(const uint8_t* bytes, std::size_t size, const std::string& fileName) {
    if (bytes == nullptr && size != 0) throw Error(fileName + ": no data");
    StateDictReader reader(bytes, size, fileName);
    return reader.read();
}

}  // namespace tokenscope
