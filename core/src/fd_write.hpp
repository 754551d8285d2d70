// Private to the event sinks: whole writes to a file descriptor.
#pragma once

#include <cerrno>
#include <string_view>
#include <unistd.h>

namespace steppar {

/// Writes all of `text` (one write() when it fits, so lines of processes sharing a file do not
/// interleave); gives up silently when the reader is gone, since a log must never fail a run.
inline void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        const ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace steppar
