#pragma once

// Test support only: a tiny, self-contained safetensors reader for reference fixtures, so that
// tests of torch-free code can read expected tensors without the engine's checkpoint loader.
// Format: 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}), then the
// data; offsets are relative to the first byte after the header. Assumes a little-endian host.
// Every problem throws tokenscope::Error naming the file.

#include "common/error.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace tokenscope::testsupport {

struct LiteTensor {
    std::string dtype;  // safetensors name: "F32", "U8", "I64", ...
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;

    int64_t numel() const {
        int64_t n = 1;
        for (int64_t d : shape) {
            n *= d;
        }
        return n;
    }
};

class SafetensorsLite {
public:
    static SafetensorsLite load(const std::string& path) {
        std::ifstream file(path, std::ios::binary);
        if (!file) {
            throw Error(path + ": cannot open fixture");
        }
        std::vector<uint8_t> content((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
        if (content.size() < 8) {
            throw Error(path + ": " + std::to_string(content.size()) + " bytes, too short for a safetensors header");
        }
        uint64_t headerLength = 0;
        for (int i = 7; i >= 0; --i) {
            headerLength = (headerLength << 8) | content[static_cast<std::size_t>(i)];
        }
        if (headerLength > content.size() - 8) {
            throw Error(path + ": header length " + std::to_string(headerLength) + " runs past the end of the file");
        }
        const std::size_t dataStart = 8 + static_cast<std::size_t>(headerLength);
        const std::size_t dataSize = content.size() - dataStart;

        nlohmann::json header;
        try {
            header = nlohmann::json::parse(content.begin() + 8, content.begin() + static_cast<std::ptrdiff_t>(dataStart));
        } catch (const nlohmann::json::exception& e) {
            throw Error(path + ": header is not JSON (" + e.what() + ")");
        }
        if (!header.is_object()) {
            throw Error(path + ": header is not a JSON object");
        }

        SafetensorsLite result;
        result.m_path = path;
        for (auto it = header.begin(); it != header.end(); ++it) {
            if (it.key() == "__metadata__") {
                for (auto meta = it->begin(); meta != it->end(); ++meta) {
                    if (meta->is_string()) {
                        result.m_metadata[meta.key()] = meta->get<std::string>();
                    }
                }
                continue;
            }
            const nlohmann::json& entry = it.value();
            LiteTensor tensor;
            try {
                tensor.dtype = entry.at("dtype").get<std::string>();
                tensor.shape = entry.at("shape").get<std::vector<int64_t>>();
                const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
                if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > dataSize) {
                    throw Error(path + ": tensor '" + it.key() + "' has data offsets outside the data section");
                }
                const uint64_t expected = static_cast<uint64_t>(tensor.numel()) * elementSize(tensor.dtype, path);
                if (offsets[1] - offsets[0] != expected) {
                    throw Error(path + ": tensor '" + it.key() + "' spans " + std::to_string(offsets[1] - offsets[0]) +
                                " bytes, its shape and dtype need " + std::to_string(expected));
                }
                const auto begin = content.begin() + static_cast<std::ptrdiff_t>(dataStart + offsets[0]);
                tensor.bytes.assign(begin, begin + static_cast<std::ptrdiff_t>(expected));
            } catch (const nlohmann::json::exception& e) {
                throw Error(path + ": tensor '" + it.key() + "' has a malformed entry (" + e.what() + ")");
            }
            result.m_tensors.emplace(it.key(), std::move(tensor));
        }
        return result;
    }

    bool contains(const std::string& name) const { return m_tensors.count(name) != 0; }

    const LiteTensor& tensor(const std::string& name) const {
        const auto it = m_tensors.find(name);
        if (it == m_tensors.end()) {
            throw Error(m_path + ": no tensor '" + name + "'");
        }
        return it->second;
    }

    // The tensor's elements as T, checking that its dtype is `dtype` and T has the element size.
    template <typename T>
    std::vector<T> values(const std::string& name, const std::string& dtype) const {
        const LiteTensor& t = tensor(name);
        if (t.dtype != dtype) {
            throw Error(m_path + ": tensor '" + name + "' is " + t.dtype + ", expected " + dtype);
        }
        if (elementSize(dtype, m_path) != sizeof(T)) {
            throw Error(m_path + ": dtype " + dtype + " does not match the requested element size");
        }
        std::vector<T> out(static_cast<std::size_t>(t.numel()));
        if (!out.empty()) {
            std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
        }
        return out;
    }

    const std::map<std::string, std::string>& metadata() const { return m_metadata; }

private:
    static uint64_t elementSize(const std::string& dtype, const std::string& path) {
        static const std::map<std::string, uint64_t> sizes = {
            {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
            {"I16", 2}, {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"U16", 2}, {"U32", 4}, {"U64", 8},
        };
        const auto it = sizes.find(dtype);
        if (it == sizes.end()) {
            throw Error(path + ": unknown dtype '" + dtype + "'");
        }
        return it->second;
    }

    std::string m_path;
    std::map<std::string, LiteTensor> m_tensors;
    std::map<std::string, std::string> m_metadata;
};

}  // namespace tokenscope::testsupport
