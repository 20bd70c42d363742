#pragma once

// Runs the tokenscope-cli binary the test was built against (TOKENSCOPE_CLI_PATH) and collects
// its exit code and output, for end-to-end tests of the command line.

#include <QProcess>
#include <QString>
#include <QStringList>

namespace tokenscope::test {

struct CliRun {
    int exitCode = -1;  // -1: did not finish in time; -2: crashed
    QString out, err;
};

// Runs `program` with `args` (the window's binary too, for its screenshot mode).
inline CliRun runProgram(const QString& program, const QStringList& args, int timeoutMs = 300000)
{
    QProcess process;
    process.start(program, args);
    if (!process.waitForFinished(timeoutMs))
        return {};
    return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2,
            QString::fromUtf8(process.readAllStandardOutput()), QString::fromUtf8(process.readAllStandardError())};
}

inline CliRun runCli(const QStringList& args, int timeoutMs = 300000)
{
    return runProgram(QStringLiteral(TOKENSCOPE_CLI_PATH), args, timeoutMs);
}

}  // namespace tokenscope::test
