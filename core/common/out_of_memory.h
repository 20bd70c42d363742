#pragma once

// Out of memory, on the host or a CUDA device, recognised in one place: LibTorch reports it as
// c10::OutOfMemoryError ("CUDA out of memory"), c10::Error ("not enough memory"), or
// std::bad_alloc from the CPU allocator. Every family turns it into a one-line Error naming what
// was running, or into a benchmark row marked out of memory.

#include <exception>
#include <string>

#include "common/error.h"

namespace tokenscope {

bool isOutOfMemory(const std::exception& e);

// The first line of an exception's message (LibTorch's carry a backtrace below it).
std::string firstLine(const std::exception& e);

// Runs f(); out of memory becomes Error("out of memory during <what> (<first line>)"). Other
// exceptions pass through unchanged.
template <typename F>
auto reportingOutOfMemory(const char* what, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        if (!isOutOfMemory(e)) throw;
        throw Error(std::string("out of memory during ") + what + " (" + firstLine(e) + ")");
    }
}

// Runs f() for a benchmark row; out of memory marks the row (outOfMemory = true, error = the
// message) instead of throwing, so a sweep over batch sizes goes on. Other exceptions pass through.
template <typename Row, typename F>
void markingOutOfMemory(Row& row, F&& f) {
    try {
        f();
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        if (!isOutOfMemory(e)) throw;
        row.outOfMemory = true;
        row.error = e.what();
    }
}

}  // namespace tokenscope
