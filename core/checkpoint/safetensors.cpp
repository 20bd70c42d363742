#include "checkpoint/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace tokenscope {

namespace {

uint64_t readLe64(const uint8_t* p) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
    return value;
}

// Reads a JSON integer that must be non-negative and fit in int64.
int64_t nonNegative(const nlohmann::json& value, const std::string& what, const std::string& where) {
    if (!value.is_number_integer() && !value.is_number_unsigned()) throw Error(where + ": " + what + " is not an integer");
    if (value.is_number_unsigned()) {
        const auto u = value.get<uint64_t>();
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) throw Error(where + ": " + what + " is too large");
        return static_cast<int64_t>(u);
    }
    const auto v = value.get<int64_t>();
    if (v < 0) throw Error(where + ": " + what + " is negative");
    return v;
}

}  // namespace

SafetensorsHeader parseSafetensors(const uint8_t* bytes, std::size_t size, const std::string& fileName) {
    if (size < 8) throw Error(fileName + ": not a safetensors file: " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
    const uint64_t headerBytes = readLe64(bytes);
    if (headerBytes > kMaxSafetensorsHeaderBytes)
        throw Error(fileName + ": safetensors header length " + std::to_string(headerBytes) + " exceeds the limit of " +
                    std::to_string(kMaxSafetensorsHeaderBytes) + " bytes (corrupt or not a safetensors file)");
    if (headerBytes > size - 8)
        throw Error(fileName + ": truncated: the header needs " + std::to_string(headerBytes) + " bytes but the file has " +
                    std::to_string(size - 8) + " after the length");

    nlohmann::json header;
    try {
        header = nlohmann::json::parse(bytes + 8, bytes + 8 + headerBytes);
    } catch (const nlohmann::json::exception& e) {
        throw Error(fileName + ": the safetensors header is not valid JSON (" + e.what() + ")");
    }
    if (!header.is_object()) throw Error(fileName + ": the safetensors header is not a JSON object");

    SafetensorsHeader result;
    result.dataOffset = 8 + headerBytes;
    const uint64_t dataBytes = size - result.dataOffset;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    std::vector<std::string> rangeNames;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") {
            if (!entry.is_object()) throw Error(fileName + ": __metadata__ is not an object");
            for (const auto& [key, value] : entry.items()) {
                if (!value.is_string()) throw Error(fileName + ": __metadata__ value '" + key + "' is not a string");
                result.metadata[key] = value.get<std::string>();
            }
            continue;
        }
        const std::string where = fileName + ": tensor '" + name + "'";
        if (!entry.is_object()) throw Error(where + " is not a JSON object");
        const auto dtypeIt = entry.find("dtype");
        const auto shapeIt = entry.find("shape");
        const auto offsetsIt = entry.find("data_offsets");
        if (dtypeIt == entry.end() || !dtypeIt->is_string()) throw Error(where + " has no string 'dtype'");
        if (shapeIt == entry.end() || !shapeIt->is_array()) throw Error(where + " has no 'shape' array");
        if (offsetsIt == entry.end() || !offsetsIt->is_array() || offsetsIt->size() != 2)
            throw Error(where + " has no 'data_offsets' pair");
        const auto dtypeName = dtypeIt->get<std::string>();
        const auto dtype = parseDtypeName(dtypeName);
        if (!dtype) throw Error(where + " has unsupported dtype '" + dtypeName + "'");

        TensorInfo info;
        info.dtype = *dtype;
        if (shapeIt->size() > 16) throw Error(where + " has " + std::to_string(shapeIt->size()) + " dimensions (at most 16)");
        uint64_t count = 1;
        bool overflow = false;
        for (const auto& dim : *shapeIt) {
            const int64_t d = nonNegative(dim, "a shape dimension", where);
            info.shape.push_back(d);
            if (d != 0 && count > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d)) overflow = true;
            count *= static_cast<uint64_t>(d);
        }
        const uint64_t elementSize = dtypeSize(info.dtype);
        if (overflow || (count != 0 && count > std::numeric_limits<uint64_t>::max() / elementSize))
            throw Error(where + " has a shape too large to address");
        const auto begin = static_cast<uint64_t>(nonNegative((*offsetsIt)[0], "data_offsets[0]", where));
        const auto end = static_cast<uint64_t>(nonNegative((*offsetsIt)[1], "data_offsets[1]", where));
        if (end < begin) throw Error(where + " has data_offsets ending before they begin");
        if (end > dataBytes)
            throw Error(where + " ends at byte " + std::to_string(end) + " past the end of the data section (" +
                        std::to_string(dataBytes) + " bytes): the file is truncated or corrupt");
        if (end - begin != count * elementSize)
            throw Error(where + " holds " + std::to_string(end - begin) + " bytes but its shape and dtype need " +
                        std::to_string(count * elementSize));
        info.strides = contiguousStrides(info.shape);
        info.byteOffset = result.dataOffset + begin;
        info.byteLength = end - begin;
        if (end > begin) {
            ranges.emplace_back(begin, end);
            rangeNames.push_back(name);
        }
        result.tensors.emplace(name, std::move(info));
    }

    std::vector<std::size_t> order(ranges.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return ranges[a] < ranges[b]; });
    for (std::size_t i = 1; i < order.size(); ++i) {
        if (ranges[order[i]].first < ranges[order[i - 1]].second)
            throw Error(fileName + ": tensors '" + rangeNames[order[i - 1]] + "' and '" + rangeNames[order[i]] + "' overlap");
    }
    return result;
}

void writeSafetensors(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                      const std::map<std::string, std::string>& metadata) {
    std::vector<const SafetensorsEntry*> sorted;
    for (const auto& entry : entries) sorted.push_back(&entry);
    std::sort(sorted.begin(), sorted.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
        const auto sa = dtypeSize(a->dtype), sb = dtypeSize(b->dtype);
        return sa != sb ? sa > sb : a->name < b->name;
    });
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const auto* entry : sorted) {
        const uint64_t bytes = static_cast<uint64_t>(numel(entry->shape)) * dtypeSize(entry->dtype);
        header[entry->name] = {{"dtype", std::string(dtypeName(entry->dtype))},
                               {"shape", entry->shape},
                               {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    while ((8 + text.size()) % 8 != 0) text.push_back(' ');

    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot open for writing");
    uint8_t length[8];
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(length), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto* entry : sorted) {
        const uint64_t bytes = static_cast<uint64_t>(numel(entry->shape)) * dtypeSize(entry->dtype);
        if (bytes > 0) out.write(static_cast<const char*>(entry->data), static_cast<std::streamsize>(bytes));
    }
    out.close();
    if (!out) throw Error(path + ": write failed (disk full?)");
}

}  // namespace tokenscope
