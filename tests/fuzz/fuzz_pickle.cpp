// libFuzzer target for the pytorch_model.bin reader (zip container + restricted unpickler) and
// the Lightning .ckpt reader (the same unpickler in UnknownGlobals::Opaque mode, the state_dict
// walk and the hyper_parameters.config conversion).
//
// Each input is used these ways:
//   1. as a whole file, through parseTorchBin and parseLightningCheckpoint (zip parsing, format
//      detection);
//   2. as a bare pickle, through readPickle in both modes on an exactly sized buffer, so that
//      AddressSanitizer sees any read past its end;
//   3. when a mode of 2 succeeds, as the data.pkl of an archive with storages "0".."3" plus one
//      entry per storage key the pickle names (some a byte short), through the reader of that
//      mode, so that the state-dict checks (storage lookup, size/stride/offset arithmetic) and the
//      config conversion get fuzzed too.
// Only tokenscope::Error may escape the readers; anything else (a crash, a sanitizer report, an
// uncaught exception, a config that nlohmann::json cannot dump) is a finding.
//
// Seeds: TOKENSCOPE_FUZZ_SEED_DIR=corpus ./tst_torch_bin (and ./tst_lightning_ckpt) write .bin,
// .ckpt and .pkl files; tools/run_fuzzers.sh adds the data.pkl of tests/data/meter/model.ckpt.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/lightning_ckpt.h"
#include "checkpoint/pickle_reader.h"
#include "checkpoint/torch_bin.h"
#include "common/error.h"

namespace {

void putU16(std::vector<uint8_t>& out, uint32_t value) {
    out.push_back(static_cast<uint8_t>(value));
    out.push_back(static_cast<uint8_t>(value >> 8));
}
void putU32(std::vector<uint8_t>& out, uint32_t value) {
    putU16(out, value & 0xffff);
    putU16(out, value >> 16);
}

// A stored zip of the given members (the reader does not check CRCs, so they are left 0).
std::vector<uint8_t> makeArchive(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& members) {
    std::vector<uint8_t> out;
    std::vector<uint32_t> offsets;
    for (const auto& [name, content] : members) {
        offsets.push_back(static_cast<uint32_t>(out.size()));
        putU32(out, 0x04034b50);
        for (uint32_t field : {20u, 0u, 0u, 0u, 0u}) putU16(out, field);  // version, flags, method, time, date
        putU32(out, 0);                                                     // crc
        putU32(out, static_cast<uint32_t>(content.size()));
        putU32(out, static_cast<uint32_t>(content.size()));
        putU16(out, static_cast<uint32_t>(name.size()));
        putU16(out, 0);
        out.insert(out.end(), name.begin(), name.end());
        out.insert(out.end(), content.begin(), content.end());
    }
    const auto directoryOffset = static_cast<uint32_t>(out.size());
    for (std::size_t i = 0; i < members.size(); ++i) {
        const auto& [name, content] = members[i];
        putU32(out, 0x02014b50);
        for (uint32_t field : {20u, 20u, 0u, 0u, 0u, 0u}) putU16(out, field);  // made by, needed, flags, method, time, date
        putU32(out, 0);
        putU32(out, static_cast<uint32_t>(content.size()));
        putU32(out, static_cast<uint32_t>(content.size()));
        putU16(out, static_cast<uint32_t>(name.size()));
        for (uint32_t field : {0u, 0u, 0u, 0u}) putU16(out, field);  // extra, comment, disk, internal
        putU32(out, 0);
        putU32(out, offsets[i]);
        out.insert(out.end(), name.begin(), name.end());
    }
    const auto directorySize = static_cast<uint32_t>(out.size()) - directoryOffset;
    putU32(out, 0x06054b50);
    putU16(out, 0);
    putU16(out, 0);
    putU16(out, static_cast<uint32_t>(members.size()));
    putU16(out, static_cast<uint32_t>(members.size()));
    putU32(out, directorySize);
    putU32(out, directoryOffset);
    putU16(out, 0);
    return out;
}

// The reader's contract: every record's bytes, and every element its view touches, lie inside
// the buffer. Traps (a finding) otherwise.
void checkRanges(const std::map<std::string, tokenscope::TensorInfo>& tensors, std::size_t size) {
    for (const auto& entry : tensors) {
        const tokenscope::TensorInfo& info = entry.second;
        if (info.byteOffset > size || info.byteLength > size - info.byteOffset) __builtin_trap();
        if (info.shape.size() != info.strides.size()) __builtin_trap();
        uint64_t lastIndex = 0;
        bool isEmpty = false;
        for (std::size_t d = 0; d < info.shape.size(); ++d) {
            if (info.shape[d] < 0 || info.strides[d] < 0) __builtin_trap();
            if (info.shape[d] == 0) isEmpty = true;
        }
        if (isEmpty) continue;
        for (std::size_t d = 0; d < info.shape.size(); ++d) {
            uint64_t span = 0;
            if (__builtin_mul_overflow(uint64_t(info.shape[d] - 1), uint64_t(info.strides[d]), &span) ||
                __builtin_add_overflow(lastIndex, span, &lastIndex)) {
                __builtin_trap();
            }
        }
        uint64_t endByte = 0;
        if (__builtin_mul_overflow(lastIndex + 1, uint64_t(tokenscope::dtypeSize(info.dtype)), &endByte) ||
            endByte > info.byteLength) {
            __builtin_trap();
        }
    }
}

// The Lightning reader's contract: the tensors as checkRanges, and a config that dumps.
void checkLightning(const tokenscope::LightningCheckpoint& checkpoint, std::size_t size) {
    checkRanges(checkpoint.tensors, size);
    (void)checkpoint.config.dump();  // throws (a finding) on anything not valid JSON text
    if (checkpoint.skippedConfigEntries.size() > tokenscope::kMaxSkippedEntries + 1) __builtin_trap();
}

using Members = std::vector<std::pair<std::string, std::vector<uint8_t>>>;

// The fixed members, plus one per storage key the pickle names (bounded in number and size),
// every third one a byte short of what the storage claims.
Members archiveMembers(const uint8_t* data, std::size_t size, const tokenscope::PickleDocument& doc) {
    Members members = {
        {"archive/data.pkl", std::vector<uint8_t>(data, data + size)},
        {"archive/data/0", std::vector<uint8_t>(64, 0x11)},
        {"archive/data/1", std::vector<uint8_t>(256, 0x22)},
        {"archive/data/2", std::vector<uint8_t>(6, 0x33)},
        {"archive/data/3", {}},
        {"archive/version", {'3', '\n'}},
    };
    std::set<std::string> names;
    for (const auto& member : members) names.insert(member.first);
    std::size_t added = 0;
    for (const auto& storage : doc.storages()) {
        if (added >= 32 || storage.key.empty() || storage.key.size() > 64) continue;
        const std::string name = "archive/data/" + storage.key;
        if (!names.insert(name).second) continue;
        const uint64_t claimed = uint64_t(std::min<int64_t>(storage.numel, 4096)) * tokenscope::dtypeSize(storage.dtype);
        const std::size_t bytes = static_cast<std::size_t>(claimed) - ((added % 3 == 2 && claimed > 0) ? 1 : 0);
        members.emplace_back(name, std::vector<uint8_t>(bytes, static_cast<uint8_t>(0x40 + added)));
        ++added;
    }
    return members;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    try {
        checkRanges(tokenscope::parseTorchBin(data, size, "fuzz.bin"), size);
    } catch (const tokenscope::Error&) {
    }
    try {
        checkLightning(tokenscope::parseLightningCheckpoint(data, size, "fuzz.ckpt"), size);
    } catch (const tokenscope::Error&) {
    }

    for (const auto mode : {tokenscope::UnknownGlobals::Refuse, tokenscope::UnknownGlobals::Opaque}) {
        tokenscope::PickleDocument doc;
        try {
            doc = tokenscope::readPickle(data, size, "fuzz.bin", "data.pkl", {}, mode);
        } catch (const tokenscope::Error&) {
            continue;  // the same bytes would fail the same way inside an archive
        }
        const std::vector<uint8_t> archive = makeArchive(archiveMembers(data, size, doc));
        try {
            if (mode == tokenscope::UnknownGlobals::Refuse) {
                checkRanges(tokenscope::parseTorchBin(archive.data(), archive.size(), "fuzz.bin"), archive.size());
            } else {
                checkLightning(tokenscope::parseLightningCheckpoint(archive.data(), archive.size(), "fuzz.ckpt"),
                               archive.size());
            }
        } catch (const tokenscope::Error&) {
        }
    }
    return 0;
}
