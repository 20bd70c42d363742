#pragma once

// Test support: compare torch tensors with explicit tolerances and readable failure messages.

#include <sstream>
#include <string>

#include <QTest>
#include <torch/torch.h>

#include "support/test_paths.h"

namespace tokenscope::test {

// Fails the current Qt test when shapes differ or max |a - b| > atol; returns whether it passed.
inline bool allClose(const torch::Tensor& actual, const torch::Tensor& expected, double atol, const std::string& what) {
    if (!actual.defined()) {
        QTest::qFail((what + ": no output").c_str(), __FILE__, __LINE__);
        return false;
    }
    if (actual.sizes() != expected.sizes()) {
        std::ostringstream message;
        message << what << ": shape " << actual.sizes() << " != expected " << expected.sizes();
        QTest::qFail(message.str().c_str(), __FILE__, __LINE__);
        return false;
    }
    const auto diff = (actual.to(torch::kDouble).cpu() - expected.to(torch::kDouble).cpu()).abs();
    const double maxDiff = diff.numel() ? diff.max().item<double>() : 0.0;
    if (!(maxDiff <= atol)) {
        std::ostringstream message;
        message << what << ": max |difference| " << maxDiff << " > " << atol;
        QTest::qFail(message.str().c_str(), __FILE__, __LINE__);
        return false;
    }
    return true;
}

inline bool equal(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what) {
    if (!actual.defined() || actual.sizes() != expected.sizes() ||
        !torch::equal(actual.to(torch::kLong).cpu(), expected.to(torch::kLong).cpu())) {
        std::ostringstream message;
        message << what << ": not equal (" << (actual.defined() ? actual.sizes() : expected.sizes()) << ")";
        QTest::qFail(message.str().c_str(), __FILE__, __LINE__);
        return false;
    }
    return true;
}

}  // namespace tokenscope::test
