#include "steppar/log.hpp"

#include <atomic>
#include <cstdio>
#include <string>

namespace steppar {
namespace {
std::atomic<bool> quiet{false};
}

void log(std::string_view message) {
    if (quiet) return;
    std::string line = "steppar: ";
    line.append(message);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines of processes do not interleave
}

void set_quiet(bool q) { quiet = q; }

}  // namespace steppar
