#include "steppar/log.hpp"

#include "steppar/events.hpp"

#include <atomic>

namespace steppar {
namespace {
std::atomic<bool> quiet_flag{false};
}

void log(std::string_view message) {
    if (quiet_flag) return;
    Message m;
    m.text = message;
    events().message(m);
}

void warn(std::string_view message) {
    Message m;
    m.level = LogLevel::warning;
    m.text = message;
    events().message(m);
}

void set_quiet(bool q) { quiet_flag = q; }
bool quiet() { return quiet_flag; }

}  // namespace steppar
