#include "steppar/interruption.hpp"

#include <cstring>


namespace steppar {
namespace detail {
std::atomic<int> stop_signal{0};
}  // namespace detail

namespace detail {
void throw_interrupted() {
    const int signal = stop_signal.load();
    throw Interrupted("interrupted by " + signal_name(signal), signal);
}
}  // namespace detail

std::string signal_name(int signal) {
    const char* abbrev = ::sigabbrev_np(signal);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

}  // namespace steppar
