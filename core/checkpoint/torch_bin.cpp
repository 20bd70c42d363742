#include "checkpoint/torch_bin.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>

#include "checkpoint/pickle_reader.h"
#include "checkpoint/zip_reader.h"
#include "common/error.h"
#include "common/printable.h"

namespace tokenscope {

namespace {

// What the legacy (pre-1.6) torch.save writes first: pickle protocol 2, LONG1 of 10 bytes,
// the magic number 0x1950a86a20f9469cfc6c.
constexpr uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

bool startsWith(const uint8_t* bytes, std::size_t size, const void* prefix, std::size_t prefixSize) {
    return size >= prefixSize && std::memcmp(bytes, prefix, prefixSize) == 0;
}

std::string printableName(std::string_view text, std::size_t maxSize = 200) { return tokenscope::printable(text, maxSize); }

// Checks that the buffer is a torch.save zip before the zip reader reports a less helpful error.
void checkFormat(const uint8_t* bytes, std::size_t size, const std::string& fileName) {
    if (startsWith(bytes, size, "PK\x03\x04", 4) || startsWith(bytes, size, "PK\x05\x06", 4)) return;
    if (startsWith(bytes, size, kLegacyMagic, sizeof kLegacyMagic)) {
        throw Error(fileName + ": uses the legacy torch.save format (PyTorch < 1.6), which is not supported; re-save it "
                               "with a newer PyTorch (torch.save(torch.load(f), f)) or convert it to safetensors");
    }
    if (size > 0 && bytes[0] == 0x80) {
        throw Error(fileName + ": is a bare pickle, not a torch.save zip archive (legacy torch.save or pickle.dump?); "
                               "re-save it with PyTorch >= 1.6 or convert it to safetensors");
    }
    throw Error(fileName + ": not a torch.save checkpoint: it does not start with a zip signature ('PK')");
}

ZipReader openZip(const uint8_t* bytes, std::size_t size, const std::string& fileName) {
    if (bytes == nullptr && size != 0) throw Error(fileName + ": no data");
    checkFormat(bytes, size, fileName);
    return ZipReader(bytes, size, fileName);
}

}  // namespace

TorchArchive::TorchArchive(const uint8_t* bytes, std::size_t size, const std::string& fileName)
    : m_fileName(fileName), m_zip(openZip(bytes, size, fileName)) {
    if (m_zip.entries().empty()) fail("the zip archive is empty; a torch.save checkpoint holds data.pkl");

    // All members live under one folder of any name; torch.save writes data.pkl first.
    const std::string& firstName = m_zip.entries().front().name;
    const std::size_t slash = firstName.find('/');
    if (slash == std::string::npos || slash == 0) {
        fail("zip entry '" + printableName(firstName) + "' is not inside a folder; not a torch.save checkpoint");
    }
    m_folder = firstName.substr(0, slash);

    if (const ZipEntry* entry = m_zip.find(m_folder + "/byteorder")) {  // written since torch 1.13
        const std::string_view order(reinterpret_cast<const char*>(m_zip.data(*entry)),
                                     static_cast<std::size_t>(std::min<uint64_t>(entry->size, 16)));
        if (order == "big") fail("was saved on a big-endian machine; only little-endian checkpoints are supported");
        if (order != "little") fail("unknown byte order '" + printableName(order) + "' in " + m_folder + "/byteorder");
    }
    m_pickle = m_zip.find(m_folder + "/data.pkl");
    if (m_pickle == nullptr) {
        fail("no '" + printableName(m_folder) + "/data.pkl' in the zip archive; not a torch.save checkpoint");
    }
}

void TorchArchive::fail(const std::string& problem) const { throw Error(m_fileName + ": " + problem); }

PickleDocument TorchArchive::readPickle(UnknownGlobals unknownGlobals) const {
    return tokenscope::readPickle(m_zip.data(*m_pickle), static_cast<std::size_t>(m_pickle->size), m_fileName,
                                  m_folder + "/data.pkl", PickleLimits{}, unknownGlobals);
}

TensorInfo TorchArchive::tensorInfo(const std::string& name, const PickleTensor& tensor,
                                    const PickleDocument& doc) const {
    const std::string what = "tensor '" + printableName(name) + "'";
    const PickleStorage& storage = doc.storages().at(tensor.storage);
    const ZipEntry* entry = m_zip.find(m_folder + "/data/" + storage.key);
    if (entry == nullptr) {
        fail(what + " uses storage '" + printableName(storage.key) + "', but the archive has no entry '" +
             printableName(m_folder) + "/data/" + printableName(storage.key) + "'");
    }

    const uint64_t elementSize = dtypeSize(storage.dtype);
    uint64_t storageBytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(storage.numel), elementSize, &storageBytes) ||
        storageBytes > entry->size) {
        fail(what + ": storage '" + printableName(storage.key) + "' claims " + std::to_string(storage.numel) +
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
        fail(what + " starts at element " + std::to_string(offset) + " of storage '" + printableName(storage.key) +
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
            fail(what + " reaches past the end of storage '" + printableName(storage.key) + "' (" +
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

std::string TorchArchive::unexpectedValue(const PickleDocument& doc, std::size_t index, const std::string& what,
                                          const std::string& expected) const {
    const PickleValue& value = doc.value(index);
    if (value.kind == PickleKind::Opaque) {
        switch (static_cast<PickleOpaqueOrigin>(value.integer)) {
        case PickleOpaqueOrigin::Global: return refusedGlobalMessage(m_fileName, value.text) + " (" + what + ")";
        case PickleOpaqueOrigin::BadArguments: return m_fileName + ": " + what + " is not " + expected + ": " + value.text;
        case PickleOpaqueOrigin::Unsupported: return m_fileName + ": " + what + " is " + value.text + ", not " + expected;
        }
    }
    return m_fileName + ": " + what + " is a " + std::string(pickleKindName(value.kind)) + ", not " + expected;
}

std::map<std::string, TensorInfo> TorchArchive::tensorsOf(const PickleDocument& doc, std::size_t dictIndex,
                                                          const std::string& what, const std::string& hint) const {
    const PickleValue& dict = doc.value(dictIndex);
    if (dict.kind != PickleKind::Dict) throw Error(unexpectedValue(doc, dictIndex, what, "a dict of tensors"));
    std::map<std::string, TensorInfo> tensors;
    for (std::size_t i = 0; i + 1 < dict.items.size(); i += 2) {
        const PickleValue& key = doc.value(dict.items[i]);
        const PickleValue& value = doc.value(dict.items[i + 1]);
        if (key.kind != PickleKind::String) {
            throw Error(unexpectedValue(doc, dict.items[i], what + " key " + std::to_string(i / 2), "a string"));
        }
        if (value.kind != PickleKind::Tensor) {
            throw Error(unexpectedValue(doc, dict.items[i + 1], what + " entry '" + printableName(key.text) + "'",
                                        "a tensor" + hint));
        }
        const PickleTensor& tensor = doc.tensors().at(static_cast<std::size_t>(value.integer));
        if (!tensors.emplace(key.text, tensorInfo(key.text, tensor, doc)).second) {
            fail(what + " names tensor '" + printableName(key.text) + "' twice");
        }
    }
    return tensors;
}

std::map<std::string, TensorInfo> parseTorchBin(const uint8_t* bytes, std::size_t size, const std::string& fileName) {
    const TorchArchive archive(bytes, size, fileName);
    const PickleDocument doc = archive.readPickle(UnknownGlobals::Refuse);
    if (doc.value(doc.root()).kind != PickleKind::Dict) {
        throw Error(fileName + ": data.pkl holds a " + std::string(pickleKindName(doc.value(doc.root()).kind)) +
                    ", not a state dict of tensors");
    }
    return archive.tensorsOf(doc, doc.root(), "state dict", " (a training checkpoint rather than a state dict?)");
}

}  // namespace tokenscope
