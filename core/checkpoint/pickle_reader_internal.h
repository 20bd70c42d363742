#pragma once

// Internal to core/checkpoint: the restricted unpickler's stack machine, shared by
// pickle_reader.cpp (the opcode loop) and pickle_torch.cpp (the allow-listed globals, storages
// and tensors).

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "checkpoint/pickle_reader.h"
#include "common/error.h"

namespace tokenscope {

namespace pickle {
// An allow-listed callable given arguments it does not take (or an argument of the wrong kind).
// Not an Error on purpose: PickleMachine::run turns it into one, except where
// UnknownGlobals::Opaque turns the result into an opaque value instead.
struct ArgumentProblem {
    std::string message;
};
}  // namespace pickle

// The stack machine. Named (not anonymous) because PickleDocument befriends it.
class PickleMachine {
public:
    PickleMachine(const uint8_t* bytes, std::size_t size, const std::string& fileName,
                  const std::string& pickleName, const PickleLimits& limits, UnknownGlobals unknownGlobals)
        : m_bytes(bytes), m_size(size), m_fileName(fileName), m_pickleName(pickleName), m_limits(limits),
          m_isLenient(unknownGlobals == UnknownGlobals::Opaque) {}

    PickleDocument run();

private:
    // The opcode loop; run() turns an ArgumentProblem escaping it into an Error.
    PickleDocument runOpcodes();
    [[noreturn]] void fail(const std::string& problem) const {
        throw Error(m_fileName + ": " + m_pickleName + " byte " + std::to_string(m_opcodeStart) + ": " + problem);
    }
    [[noreturn]] static void badArgument(std::string problem) { throw pickle::ArgumentProblem{std::move(problem)}; }
    [[noreturn]] void unsupportedOpcode(uint8_t opcode) const;

    // Input.
    std::size_t remaining() const { return m_size - m_pos; }
    const uint8_t* take(std::size_t count) {
        if (count > remaining()) fail("the pickle ends in the middle of an opcode (truncated?)");
        const uint8_t* p = m_bytes + m_pos;
        m_pos += count;
        return p;
    }
    uint64_t readLittleEndian(std::size_t count) {
        const uint8_t* p = take(count);
        uint64_t value = 0;
        for (std::size_t i = count; i-- > 0;) value = (value << 8) | p[i];
        return value;
    }
    std::string readLine();
    std::string readText(uint64_t length);
    int64_t readLong(uint64_t byteCount);
    void pushLong(uint64_t byteCount);

    // Values.
    std::size_t newValue(PickleKind kind);
    std::size_t newInt(PickleKind kind, int64_t value) {
        const std::size_t index = newValue(kind);
        m_doc.m_values[index].integer = value;
        return index;
    }
    std::size_t newText(PickleKind kind, std::string text) {
        const std::size_t index = newValue(kind);
        m_doc.m_values[index].text = std::move(text);
        return index;
    }
    std::size_t newSequence(PickleKind kind, std::vector<std::size_t> items) {
        const std::size_t index = newValue(kind);
        m_doc.m_values[index].items = std::move(items);
        return index;
    }
    PickleValue& at(std::size_t index) { return m_doc.m_values[index]; }
    std::size_t newOpaque(PickleOpaqueOrigin origin, std::string text) {
        const std::size_t index = newText(PickleKind::Opaque, std::move(text));
        at(index).integer = static_cast<int64_t>(origin);
        return index;
    }
    // What calling (REDUCE, NEWOBJ, NEWOBJ_EX) the opaque value `source` gives: another one of
    // the same origin, so that the global stays named.
    std::size_t newOpaqueFrom(std::size_t source) {
        std::string text = at(source).text;
        const auto origin = static_cast<PickleOpaqueOrigin>(at(source).integer);
        return newOpaque(origin, std::move(text));
    }

    // Stack.
    void push(std::size_t index) {
        if (m_stack.size() >= m_limits.maxStackSize) {
            fail("the pickle stack holds more than " + std::to_string(m_limits.maxStackSize) + " values");
        }
        m_stack.push_back(index);
    }
    std::size_t pop() {
        if (m_stack.size() <= stackFloor()) fail("pop from an empty stack");
        const std::size_t index = m_stack.back();
        m_stack.pop_back();
        return index;
    }
    std::size_t top() const {
        if (m_stack.size() <= stackFloor()) fail("the stack is empty");
        return m_stack.back();
    }
    // Values above the innermost MARK belong to it; opcodes other than the mark-consuming ones
    // must not reach below it.
    std::size_t stackFloor() const { return m_marks.empty() ? 0 : m_marks.back(); }
    std::vector<std::size_t> popMark();
    void memoPut(uint64_t key);
    std::size_t memoGet(uint64_t key) const;

    // Allow-listed objects.
    std::size_t resolveGlobal(const std::string& module, const std::string& name);
    std::size_t apply(std::size_t callable, std::size_t args, bool isNewObj);
    std::size_t reduce(std::size_t callable, std::size_t args);
    std::size_t rebuildTensor(const std::vector<std::size_t>& args);
    std::size_t persistentLoad(std::size_t pid);
    std::vector<int64_t> intTuple(std::size_t index, const char* what);
    const PickleValue& expect(std::size_t index, PickleKind kind, const char* what);

    const uint8_t* m_bytes;
    std::size_t m_size;
    std::size_t m_pos = 0;
    std::size_t m_opcodeStart = 0;
    const std::string& m_fileName;
    const std::string& m_pickleName;
    const PickleLimits& m_limits;
    const bool m_isLenient;

    PickleDocument m_doc;
    std::vector<std::size_t> m_stack;
    std::vector<std::size_t> m_marks;
    std::unordered_map<uint64_t, std::size_t> m_memo;
};

}  // namespace tokenscope
