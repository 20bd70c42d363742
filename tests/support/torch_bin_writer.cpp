#include "support/torch_bin_writer.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace tokenscope::testing {

namespace {

void putU16(Bytes& out, uint16_t value) {
    out.push_back(static_cast<uint8_t>(value));
    out.push_back(static_cast<uint8_t>(value >> 8));
}
void putU32(Bytes& out, uint32_t value) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}
void putU64(Bytes& out, uint64_t value) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}
void putText(Bytes& out, const std::string& text) { out.insert(out.end(), text.begin(), text.end()); }

constexpr uint32_t kSaturated32 = 0xffffffffu;
constexpr uint16_t kSaturated16 = 0xffffu;

std::string storageTypeName(DType dtype) {
    switch (dtype) {
    case DType::F64: return "DoubleStorage";
    case DType::F32: return "FloatStorage";
    case DType::F16: return "HalfStorage";
    case DType::BF16: return "BFloat16Storage";
    case DType::I64: return "LongStorage";
    case DType::I32: return "IntStorage";
    case DType::I16: return "ShortStorage";
    case DType::I8: return "CharStorage";
    case DType::U8: return "ByteStorage";
    case DType::Bool: return "BoolStorage";
    }
    return "FloatStorage";
}

}  // namespace

uint32_t crc32(const uint8_t* data, std::size_t size) {
    static const std::array<uint32_t, 256> table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    uint32_t crc = 0xffffffffu;
    for (std::size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

// ---------------------------------------------------------------------------------------------
// ZipWriter

void ZipWriter::add(const std::string& name, Bytes content, uint16_t method) {
    m_entries.push_back({name, std::move(content), method});
}

Bytes ZipWriter::finish(bool zip64, std::size_t alignment) const {
    Bytes out;
    std::vector<uint64_t> localOffsets;
    const uint16_t version = zip64 ? 45 : 20;
    for (const Entry& entry : m_entries) {
        const uint64_t offset = out.size();
        localOffsets.push_back(offset);
        const uint64_t size = entry.content.size();
        const uint32_t crc = crc32(entry.content.data(), entry.content.size());

        Bytes extra;
        if (zip64) {
            putU16(extra, 0x0001);
            putU16(extra, 16);
            putU64(extra, size);
            putU64(extra, size);
        }
        // "FB" padding record so that the data starts on an alignment boundary.
        const std::size_t unpadded = offset + 30 + entry.name.size() + extra.size() + 4;
        const std::size_t padding = alignment ? (alignment - unpadded % alignment) % alignment : 0;
        putU16(extra, 0x4246);
        putU16(extra, static_cast<uint16_t>(padding));
        extra.insert(extra.end(), padding, 'Z');

        putU32(out, 0x04034b50);
        putU16(out, version);
        putU16(out, 0);  // flags
        putU16(out, entry.method);
        putU16(out, 0);  // time
        putU16(out, 0x21);  // date: 1980-01-01
        putU32(out, crc);
        putU32(out, zip64 ? kSaturated32 : static_cast<uint32_t>(size));
        putU32(out, zip64 ? kSaturated32 : static_cast<uint32_t>(size));
        putU16(out, static_cast<uint16_t>(entry.name.size()));
        putU16(out, static_cast<uint16_t>(extra.size()));
        putText(out, entry.name);
        out.insert(out.end(), extra.begin(), extra.end());
        out.insert(out.end(), entry.content.begin(), entry.content.end());
    }

    const uint64_t directoryOffset = out.size();
    for (std::size_t i = 0; i < m_entries.size(); ++i) {
        const Entry& entry = m_entries[i];
        const uint64_t size = entry.content.size();
        Bytes extra;
        if (zip64) {
            putU16(extra, 0x0001);
            putU16(extra, 24);
            putU64(extra, size);
            putU64(extra, size);
            putU64(extra, localOffsets[i]);
        }
        putU32(out, 0x02014b50);
        putU16(out, version);  // made by
        putU16(out, version);  // needed
        putU16(out, 0);
        putU16(out, entry.method);
        putU16(out, 0);
        putU16(out, 0x21);
        putU32(out, crc32(entry.content.data(), entry.content.size()));
        putU32(out, zip64 ? kSaturated32 : static_cast<uint32_t>(size));
        putU32(out, zip64 ? kSaturated32 : static_cast<uint32_t>(size));
        putU16(out, static_cast<uint16_t>(entry.name.size()));
        putU16(out, static_cast<uint16_t>(extra.size()));
        putU16(out, 0);  // comment
        putU16(out, 0);  // disk start
        putU16(out, 0);  // internal attributes
        putU32(out, 0);  // external attributes
        putU32(out, zip64 ? kSaturated32 : static_cast<uint32_t>(localOffsets[i]));
        putText(out, entry.name);
        out.insert(out.end(), extra.begin(), extra.end());
    }
    const uint64_t directorySize = out.size() - directoryOffset;
    const uint64_t count = m_entries.size();

    if (zip64) {
        const uint64_t recordOffset = out.size();
        putU32(out, 0x06064b50);
        putU64(out, 44);
        putU16(out, 45);
        putU16(out, 45);
        putU32(out, 0);
        putU32(out, 0);
        putU64(out, count);
        putU64(out, count);
        putU64(out, directorySize);
        putU64(out, directoryOffset);
        putU32(out, 0x07064b50);
        putU32(out, 0);
        putU64(out, recordOffset);
        putU32(out, 1);
    }
    putU32(out, 0x06054b50);
    putU16(out, 0);
    putU16(out, 0);
    putU16(out, zip64 ? kSaturated16 : static_cast<uint16_t>(count));
    putU16(out, zip64 ? kSaturated16 : static_cast<uint16_t>(count));
    putU32(out, zip64 ? kSaturated32 : static_cast<uint32_t>(directorySize));
    putU32(out, zip64 ? kSaturated32 : static_cast<uint32_t>(directoryOffset));
    putU16(out, 0);
    return out;
}

// ---------------------------------------------------------------------------------------------
// PickleWriter

PickleWriter& PickleWriter::proto(uint8_t version) { return raw({0x80, version}); }
PickleWriter& PickleWriter::stop() { return raw({'.'}); }
PickleWriter& PickleWriter::mark() { return raw({'('}); }

PickleWriter& PickleWriter::global(const std::string& module, const std::string& name) {
    m_bytes.push_back('c');
    putText(m_bytes, module + "\n" + name + "\n");
    return *this;
}

PickleWriter& PickleWriter::memoizedGlobal(const std::string& module, const std::string& name) {
    const std::string key = module + "\n" + name;
    const auto it = m_globals.find(key);
    if (it != m_globals.end()) return get(it->second);
    global(module, name);
    m_globals[key] = put();
    return *this;
}

PickleWriter& PickleWriter::string(const std::string& text) {
    m_bytes.push_back('X');
    putU32(m_bytes, static_cast<uint32_t>(text.size()));
    putText(m_bytes, text);
    return *this;
}

PickleWriter& PickleWriter::integer(int64_t value) {
    if (value >= 0 && value < 0x100) return raw({'K', static_cast<uint8_t>(value)});
    if (value >= 0 && value < 0x10000) {
        m_bytes.push_back('M');
        putU16(m_bytes, static_cast<uint16_t>(value));
        return *this;
    }
    if (value >= std::numeric_limits<int32_t>::min() && value <= std::numeric_limits<int32_t>::max()) {
        m_bytes.push_back('J');
        putU32(m_bytes, static_cast<uint32_t>(value));
        return *this;
    }
    // LONG1: the shortest little-endian two's complement, as CPython's encode_long.
    Bytes digits;
    const auto bits = static_cast<uint64_t>(value);
    for (int i = 0; i < 8; ++i) digits.push_back(static_cast<uint8_t>(bits >> (8 * i)));
    while (digits.size() > 1) {
        const uint8_t last = digits.back();
        const bool nextNegative = digits[digits.size() - 2] & 0x80;
        if ((last == 0x00 && !nextNegative) || (last == 0xff && nextNegative)) {
            digits.pop_back();
        } else {
            break;
        }
    }
    m_bytes.push_back(0x8a);
    m_bytes.push_back(static_cast<uint8_t>(digits.size()));
    return raw(digits);
}

PickleWriter& PickleWriter::boolean(bool value) { return raw({static_cast<uint8_t>(value ? 0x88 : 0x89)}); }
PickleWriter& PickleWriter::none() { return raw({'N'}); }
PickleWriter& PickleWriter::binFloat(double value) {
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    m_bytes.push_back('G');
    for (int i = 7; i >= 0; --i) m_bytes.push_back(static_cast<uint8_t>(bits >> (8 * i)));
    return *this;
}
PickleWriter& PickleWriter::emptyTuple() { return raw({')'}); }
PickleWriter& PickleWriter::tuple() { return raw({'t'}); }
PickleWriter& PickleWriter::tupleN(std::size_t count) { return raw({static_cast<uint8_t>(0x85 + count - 1)}); }
PickleWriter& PickleWriter::emptyList() { return raw({']'}); }
PickleWriter& PickleWriter::append() { return raw({'a'}); }
PickleWriter& PickleWriter::emptyDict() { return raw({'}'}); }
PickleWriter& PickleWriter::setItem() { return raw({'s'}); }
PickleWriter& PickleWriter::setItems() { return raw({'u'}); }
PickleWriter& PickleWriter::reduce() { return raw({'R'}); }
PickleWriter& PickleWriter::newObj() { return raw({0x81}); }
PickleWriter& PickleWriter::build() { return raw({'b'}); }
PickleWriter& PickleWriter::binPersId() { return raw({'Q'}); }

std::size_t PickleWriter::put() {
    const std::size_t index = m_nextMemo++;
    if (index < 0x100) {
        raw({'q', static_cast<uint8_t>(index)});
    } else {
        m_bytes.push_back('r');
        putU32(m_bytes, static_cast<uint32_t>(index));
    }
    return index;
}

PickleWriter& PickleWriter::get(std::size_t index) {
    if (index < 0x100) return raw({'h', static_cast<uint8_t>(index)});
    m_bytes.push_back('j');
    putU32(m_bytes, static_cast<uint32_t>(index));
    return *this;
}

PickleWriter& PickleWriter::raw(const Bytes& bytes) {
    m_bytes.insert(m_bytes.end(), bytes.begin(), bytes.end());
    return *this;
}

PickleWriter& PickleWriter::raw(std::initializer_list<uint8_t> bytes) {
    m_bytes.insert(m_bytes.end(), bytes.begin(), bytes.end());
    return *this;
}

// ---------------------------------------------------------------------------------------------
// TorchBinWriter

TorchBinWriter::TorchBinWriter(std::string folder) : m_folder(std::move(folder)) {}

void TorchBinWriter::addStorage(const std::string& key, DType dtype, Bytes bytes) {
    if (m_storages.find(key) == m_storages.end()) m_storageOrder.push_back(key);
    m_storages[key] = Storage{dtype, std::move(bytes)};
}

void TorchBinWriter::addTensor(TorchBinTensor tensor) { m_tensors.push_back(std::move(tensor)); }

void TorchBinWriter::addContiguous(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                                   bool asParameter) {
    const std::string key = std::to_string(m_storageOrder.size());
    const auto count = static_cast<std::size_t>(numel(shape));
    addStorage(key, dtype, patternBytes(count * dtypeSize(dtype), static_cast<uint8_t>(m_storageOrder.size())));
    addTensor({name, key, shape, {}, 0, asParameter});
}

Bytes TorchBinWriter::pickle() const {
    PickleWriter p;
    p.proto(2);
    emitStateDict(p);
    p.stop();
    return p.bytes();
}

Bytes TorchBinWriter::lightningPickle(const std::function<void(PickleWriter& p)>& entries) const {
    PickleWriter p;
    p.proto(2).emptyDict();
    p.put();
    p.mark();
    p.string("epoch");
    p.put();
    p.integer(0);
    p.string("global_step");
    p.put();
    p.integer(0);
    p.string("pytorch-lightning_version");
    p.put();
    p.string("1.3.2");
    p.put();
    p.string("state_dict");
    p.put();
    emitStateDict(p);
    if (entries) entries(p);
    p.setItems().stop();
    return p.bytes();
}

Bytes TorchBinWriter::writeLightning(const std::function<void(PickleWriter& p)>& entries) const {
    return archive(lightningPickle(entries));
}

void TorchBinWriter::emitStateDict(PickleWriter& p) const {
    p.memoizedGlobal("collections", "OrderedDict").emptyTuple().reduce();
    p.put();

    std::size_t storageTagMemo = 0;
    bool hasStorageTag = false;
    auto intTuple = [&p](const std::vector<int64_t>& values) {
        if (values.empty()) {
            p.emptyTuple();  // CPython does not memoize the empty tuple
            return;
        }
        if (values.size() > 3) p.mark();
        for (int64_t v : values) p.integer(v);
        if (values.size() > 3) {
            p.tuple();
        } else {
            p.tupleN(values.size());
        }
        p.put();
    };
    auto emptyOrderedDict = [&p] {
        p.memoizedGlobal("collections", "OrderedDict").emptyTuple().reduce();
        p.put();
    };
    auto tensorValue = [&](const TorchBinTensor& t) {
        const auto storageIt = m_storages.find(t.storageKey);
        const DType dtype = storageIt == m_storages.end() ? DType::F32 : storageIt->second.dtype;
        const int64_t storageNumel =
            storageIt == m_storages.end()
                ? 0
                : static_cast<int64_t>(storageIt->second.bytes.size() / dtypeSize(dtype));
        if (t.asParameter) p.memoizedGlobal("torch._utils", "_rebuild_parameter");
        p.memoizedGlobal("torch._utils", "_rebuild_tensor_v2");
        p.mark();
        // persistent id ("storage", torch.<T>Storage, key, location, numel)
        p.mark();
        if (hasStorageTag) {
            p.get(storageTagMemo);
        } else {
            p.string("storage");
            storageTagMemo = p.put();
            hasStorageTag = true;
        }
        p.memoizedGlobal("torch", storageTypeName(dtype));
        p.string(t.storageKey);
        p.put();
        p.string("cpu");
        p.put();
        p.integer(storageNumel);
        p.tuple();
        p.put();
        p.binPersId();
        p.integer(t.storageOffset);
        intTuple(t.shape);
        intTuple(t.strides.empty() ? contiguousStrides(t.shape) : t.strides);
        p.boolean(false);
        emptyOrderedDict();
        p.tuple();
        p.put();
        p.reduce();
        p.put();
        if (t.asParameter) {
            p.boolean(true);
            emptyOrderedDict();
            p.tupleN(3);
            p.put();
            p.reduce();
            p.put();
        }
    };

    // CPython's _batch_setitems: batches of 1000; a batch of one is a plain SETITEM.
    constexpr std::size_t kBatchSize = 1000;
    for (std::size_t begin = 0; begin < m_tensors.size(); begin += kBatchSize) {
        const std::size_t end = std::min(m_tensors.size(), begin + kBatchSize);
        if (end - begin > 1) p.mark();
        for (std::size_t i = begin; i < end; ++i) {
            p.string(m_tensors[i].name);
            p.put();
            tensorValue(m_tensors[i]);
        }
        if (end - begin > 1) {
            p.setItems();
        } else {
            p.setItem();
        }
    }

    // state: {"_metadata": OrderedDict([("", {"version": 1})])}
    p.emptyDict();
    p.put();
    p.string("_metadata");
    p.put();
    emptyOrderedDict();
    p.string("");
    p.put();
    p.emptyDict();
    p.put();
    p.string("version");
    p.put();
    p.integer(1);
    p.setItem();
    p.setItem();
    p.setItem();
    p.build();
}

Bytes TorchBinWriter::write() const { return archive(pickle()); }

Bytes TorchBinWriter::archive(const Bytes& pickle) const {
    ZipWriter zip;
    zip.add(m_folder + "/data.pkl", pickle);
    if (!m_byteOrder.empty()) zip.add(m_folder + "/byteorder", Bytes(m_byteOrder.begin(), m_byteOrder.end()));
    for (const std::string& key : m_storageOrder) zip.add(m_folder + "/data/" + key, m_storages.at(key).bytes);
    zip.add(m_folder + "/version", Bytes{'3', '\n'});
    return zip.finish(m_zip64);
}

// ---------------------------------------------------------------------------------------------

Bytes patternBytes(std::size_t size, uint8_t seed) {
    Bytes bytes(size);
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 131 + (i >> 8) + seed * 29 + 7);
    return bytes;
}

Bytes makeTorchZip(const Bytes& pickle, const std::vector<std::pair<std::string, Bytes>>& storages,
                   const std::string& folder) {
    ZipWriter zip;
    zip.add(folder + "/data.pkl", pickle);
    for (const auto& [key, bytes] : storages) zip.add(folder + "/data/" + key, bytes);
    zip.add(folder + "/version", Bytes{'3', '\n'});
    return zip.finish();
}

void pushGlobalCall(PickleWriter& p, const std::string& module, const std::string& name, const std::string& argument) {
    p.global(module, name);
    p.put();
    p.string(argument);
    p.put();
    p.tupleN(1);
    p.put();
    p.reduce();
    p.put();
}

Bytes makeGlobalCallPickle(const std::string& module, const std::string& name) {
    PickleWriter p;
    p.proto(2).global(module, name);
    p.put();
    p.string("echo pwned");
    p.put();
    p.tupleN(1);
    p.put();
    p.reduce();
    p.put();
    p.stop();
    return p.bytes();
}

}  // namespace tokenscope::testing
