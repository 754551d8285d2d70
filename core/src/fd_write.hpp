// Private to the event sinks: whole writes to a file descriptor.
#pragma once

#include <cerrno>
#include <mutex>
#include <string_view>
#include <unistd.h>

namespace steppar {

/// Writes all of `text` (one write() when it fits, so lines of processes sharing a file do not
/// interleave); gives up silently when the reader is gone, since a log must never fail a run.
/// Whole texts of one process never interleave either: a node may log from many threads.
inline void write_all(int fd, std::string_view text) {
    static std::mutex one_writer;
    const std::lock_guard<std::mutex> lock(one_writer);
    while (!text.empty()) {
        const ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace steppar
