#include "checkpoint/lightning_ckpt.h"

#include <optional>
#include <string_view>

#include "checkpoint/pickle_reader.h"
#include "checkpoint/torch_bin.h"
#include "common/error.h"
#include "common/printable.h"
#include "io/mapped_file.h"

namespace tokenscope {

namespace {

// Keys that only a Lightning checkpoint's top level has (Lightning's CheckpointConnector).
constexpr std::string_view kBookkeepingKeys[] = {"epoch",          "global_step", "pytorch-lightning_version",
                                                 "optimizer_states", "lr_schedulers", "callbacks",
                                                 "hyper_parameters", "hparams_name", "loops"};

std::string printableName(std::string_view text, std::size_t maxSize = 60) { return tokenscope::printable(text, maxSize); }

// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF): nlohmann::json
// refuses to dump anything else, and Python's pickler writes lone surrogates with surrogatepass.
bool isValidUtf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        std::size_t length = 0;
        uint32_t codePoint = 0;
        if (lead < 0x80) {
            ++i;
            continue;
        } else if ((lead & 0xe0) == 0xc0) {
            length = 2;
            codePoint = lead & 0x1f;
        } else if ((lead & 0xf0) == 0xe0) {
            length = 3;
            codePoint = lead & 0x0f;
        } else if ((lead & 0xf8) == 0xf0) {
            length = 4;
            codePoint = lead & 0x07;
        } else {
            return false;
        }
        if (text.size() - i < length) return false;
        for (std::size_t k = 1; k < length; ++k) {
            const auto byte = static_cast<unsigned char>(text[i + k]);
            if ((byte & 0xc0) != 0x80) return false;
            codePoint = (codePoint << 6) | (byte & 0x3f);
        }
        constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
        if (codePoint < kSmallest[length] || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) {
            return false;
        }
        i += length;
    }
    return true;
}

// The value of `key` in a dict, or in an opaque object's SETITEMS pairs (a dict subclass such as
// AttributeDict) and the dict(s) its BUILD state holds (argparse.Namespace: its __dict__; a
// (dict, slots) tuple). The last pair with that key wins, as in a Python dict. One level only.
std::optional<std::size_t> lookup(const PickleDocument& doc, std::size_t index, std::string_view key) {
    const auto findIn = [&](const PickleValue& dict) -> std::optional<std::size_t> {
        std::optional<std::size_t> found;
        for (std::size_t i = 0; i + 1 < dict.items.size(); i += 2) {
            const PickleValue& candidate = doc.value(dict.items[i]);
            if (candidate.kind == PickleKind::String && candidate.text == key) found = dict.items[i + 1];
        }
        return found;
    };
    const PickleValue& value = doc.value(index);
    if (value.kind == PickleKind::Dict) return findIn(value);
    if (value.kind != PickleKind::Opaque) return std::nullopt;
    if (auto found = findIn(value)) return found;
    if (value.state == PickleValue::kNoState) return std::nullopt;
    const PickleValue& state = doc.value(value.state);
    if (state.kind == PickleKind::Dict) return findIn(state);
    if (state.kind == PickleKind::Tuple) {
        for (std::size_t part : state.items) {
            if (doc.value(part).kind != PickleKind::Dict) continue;
            if (auto found = findIn(doc.value(part))) return found;
        }
    }
    return std::nullopt;
}

// Converts hyper_parameters.config to JSON depth-first with an explicit stack: the pickle
// decides the nesting, so no recursion; a container met again on its own path is a cycle
// (skipped), and the total output is bounded because shared references could expand it
// exponentially.
class ConfigConverter {
public:
    ConfigConverter(const PickleDocument& doc, const std::string& fileName, std::vector<std::string>& skipped)
        : m_doc(doc), m_fileName(fileName), m_skipped(skipped), m_onPath(doc.values().size(), false) {}

    nlohmann::json convert(std::size_t root);

private:
    struct Frame {
        std::size_t value;
        nlohmann::json* out;
        std::string path;
        std::size_t next = 0;
    };

    // Why a value is not a plain one, or "" when it is (scalar or container).
    std::string whyNotPlain(std::size_t index) const;
    bool isContainer(std::size_t index) const {
        const PickleKind kind = m_doc.value(index).kind;
        return kind == PickleKind::Dict || kind == PickleKind::List || kind == PickleKind::Tuple;
    }
    // Sets *out to the scalar, or to an empty container and pushes its frame.
    void place(std::size_t index, nlohmann::json* out, std::string path);
    void skip(const std::string& path, const std::string& why);
    std::optional<std::string> keyText(std::size_t index) const;

    const PickleDocument& m_doc;
    const std::string& m_fileName;
    std::vector<std::string>& m_skipped;
    std::vector<bool> m_onPath;
    std::vector<Frame> m_stack;
    std::size_t m_valueCount = 0;
    std::size_t m_skippedCount = 0;
};

std::string ConfigConverter::whyNotPlain(std::size_t index) const {
    const PickleValue& value = m_doc.value(index);
    switch (value.kind) {
    case PickleKind::None:
    case PickleKind::Bool:
    case PickleKind::Int:
    case PickleKind::Float:
    case PickleKind::Dict:
    case PickleKind::List:
    case PickleKind::Tuple:
        return "";
    case PickleKind::String:
        return isValidUtf8(value.text) ? "" : "a str that is not valid UTF-8";
    case PickleKind::Opaque:
        if (static_cast<PickleOpaqueOrigin>(value.integer) == PickleOpaqueOrigin::Global) return printableName(value.text, 120);
        if (static_cast<PickleOpaqueOrigin>(value.integer) == PickleOpaqueOrigin::Unsupported) return value.text;
        return "an object that cannot be read (" + printableName(value.text, 120) + ")";
    case PickleKind::Bytes:
    case PickleKind::Callable:
    case PickleKind::Storage:
    case PickleKind::Tensor:
        break;
    }
    return "a " + std::string(pickleKindName(value.kind));
}

std::optional<std::string> ConfigConverter::keyText(std::size_t index) const {
    const PickleValue& key = m_doc.value(index);
    if (key.kind == PickleKind::String && isValidUtf8(key.text)) return key.text;
    if (key.kind == PickleKind::Int) return std::to_string(key.integer);  // as json.dumps writes int keys
    return std::nullopt;
}

void ConfigConverter::skip(const std::string& path, const std::string& why) {
    if (m_skippedCount++ < kMaxSkippedEntries) {
        m_skipped.push_back(path + ": " + why);
    } else if (m_skippedCount == kMaxSkippedEntries + 1) {
        m_skipped.push_back("(further entries skipped as well)");
    }
}

void ConfigConverter::place(std::size_t index, nlohmann::json* out, std::string path) {
    if (++m_valueCount > kMaxConfigValues) {
        throw Error(m_fileName + ": hyper_parameters.config expands to more than " + std::to_string(kMaxConfigValues) +
                    " values (shared or self-referencing containers?)");
    }
    const PickleValue& value = m_doc.value(index);
    switch (value.kind) {
    case PickleKind::None: *out = nullptr; return;
    case PickleKind::Bool: *out = value.integer != 0; return;
    case PickleKind::Int: *out = value.integer; return;
    case PickleKind::Float: *out = value.real; return;
    case PickleKind::String: *out = value.text; return;
    default: break;
    }
    if (m_stack.size() >= kMaxConfigDepth) {
        throw Error(m_fileName + ": hyper_parameters.config nests deeper than " + std::to_string(kMaxConfigDepth) +
                    " levels (at " + path + ")");
    }
    *out = value.kind == PickleKind::Dict ? nlohmann::json::object() : nlohmann::json::array();
    m_onPath[index] = true;
    m_stack.push_back(Frame{index, out, std::move(path)});
}

nlohmann::json ConfigConverter::convert(std::size_t root) {
    nlohmann::json result;
    if (const std::string why = whyNotPlain(root); !why.empty()) {
        skip("config", why);
        return result;
    }
    place(root, &result, "config");
    while (!m_stack.empty()) {
        Frame& frame = m_stack.back();
        const PickleValue& container = m_doc.value(frame.value);
        const bool isDict = container.kind == PickleKind::Dict;
        if (frame.next >= container.items.size()) {
            m_onPath[frame.value] = false;
            m_stack.pop_back();
            continue;
        }
        const std::size_t position = frame.next;
        frame.next += isDict ? 2 : 1;

        std::size_t child = 0;
        std::string childPath;
        if (isDict) {
            child = container.items[position + 1];
            const std::optional<std::string> key = keyText(container.items[position]);
            if (!key) {
                const std::size_t keyIndex = container.items[position];
                const std::string why = whyNotPlain(keyIndex);
                skip(frame.path + " key " + std::to_string(position / 2),
                     "a key that is " + (why.empty() ? "a " + std::string(pickleKindName(m_doc.value(keyIndex).kind)) : why));
                continue;
            }
            childPath = frame.path + "." + printableName(*key);
            std::string why = whyNotPlain(child);
            if (why.empty() && isContainer(child) && m_onPath[child]) why = "refers to a container that holds it";
            if (!why.empty()) {
                frame.out->erase(*key);  // a later duplicate key replaces an earlier value, as in Python
                skip(childPath, why);
                continue;
            }
            nlohmann::json* out = &(*frame.out)[*key];
            place(child, out, std::move(childPath));  // may invalidate `frame`
        } else {
            child = container.items[position];
            childPath = frame.path + "[" + std::to_string(position) + "]";
            // The placeholder keeps the element's position; pointers to it stay valid because the
            // array does not grow again until the child is done.
            frame.out->push_back(nullptr);
            nlohmann::json* out = &frame.out->back();
            std::string why = whyNotPlain(child);
            if (why.empty() && isContainer(child) && m_onPath[child]) why = "refers to a container that holds it";
            if (!why.empty()) {
                skip(childPath, why);
                continue;
            }
            place(child, out, std::move(childPath));
        }
    }
    return result;
}

}  // namespace

LightningCheckpoint parseLightningCheckpoint(const uint8_t* bytes, std::size_t size, const std::string& fileName) {
    const TorchArchive archive(bytes, size, fileName);
    const PickleDocument doc = archive.readPickle(UnknownGlobals::Opaque);
    const std::size_t root = doc.root();
    if (doc.value(root).kind != PickleKind::Dict) {
        throw Error(archive.unexpectedValue(doc, root, "data.pkl's top object",
                                            "a dict (a Lightning checkpoint or a state dict)"));
    }

    LightningCheckpoint checkpoint;
    if (const auto stateDict = lookup(doc, root, "state_dict")) {
        checkpoint.isLightning = true;
        checkpoint.tensors = archive.tensorsOf(doc, *stateDict, "state_dict");
    } else {
        std::string bookkeeping;
        for (const std::string_view key : kBookkeepingKeys) {
            if (lookup(doc, root, key)) bookkeeping += (bookkeeping.empty() ? "" : ", ") + std::string(key);
        }
        if (!bookkeeping.empty()) {
            throw Error(fileName + ": a Lightning checkpoint (it has " + bookkeeping +
                        ") without a 'state_dict' entry; there are no weights to read");
        }
        checkpoint.tensors = archive.tensorsOf(doc, root, "state dict");
    }

    if (const auto hyperParameters = lookup(doc, root, "hyper_parameters")) {
        if (const auto config = lookup(doc, *hyperParameters, "config")) {
            ConfigConverter converter(doc, fileName, checkpoint.skippedConfigEntries);
            checkpoint.config = converter.convert(*config);
        } else {
            const PickleValue& value = doc.value(*hyperParameters);
            checkpoint.skippedConfigEntries.push_back(
                "config: hyper_parameters (" +
                (value.kind == PickleKind::Opaque ? printableName(value.text, 120) : std::string(pickleKindName(value.kind))) +
                ") has no 'config' entry");
        }
    }
    return checkpoint;
}

LightningCheckpoint readLightningCheckpointFile(const std::string& path) {
    const auto file = MappedFile::open(path);
    return parseLightningCheckpoint(file->data(), file->size(), fileNameOf(path));
}

}  // namespace tokenscope
