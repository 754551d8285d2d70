// The work of each benchmark node, shared by the steppar_bench plugin and by the contenders
// (bench-one for xargs/parallel/snakemake, bench-ideal for the in-process lower bound), so every
// contender computes the very same bytes.
#pragma once

#include "../../plugins/builtin/word_count.hpp"

#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unistd.h>

namespace steppar_bench {

/// SHA-256 of `data` fed `rounds` times, as lowercase hex and a newline: CPU cost grows with
/// size x rounds, and the result proves the work was done.
inline std::string burn(std::string_view data, long long rounds) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1) throw std::runtime_error("no SHA-256");
    for (long long r = 0; r < rounds; ++r) EVP_DigestUpdate(md.get(), data.data(), data.size());
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(md.get(), digest, &length);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out + "\n";
}

/// Whole file with plain read(2): the cheapest way to get it.
inline std::string read_all(const char* path) {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(std::string("cannot open ") + path + ": " + std::strerror(errno));
    std::string data;
    char buffer[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            ::close(fd);
            throw std::runtime_error(std::string("cannot read ") + path + ": " + std::strerror(errno));
        }
        if (n == 0) break;
        data.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return data;
}

/// Writes `content` to `path` in place (no temporary, no rename): the lower bound of writing.
inline void write_all(const char* path, std::string_view content) {
    const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error(std::string("cannot create ") + path + ": " + std::strerror(errno));
    const bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
    ::close(fd);
    if (!ok) throw std::runtime_error(std::string("cannot write ") + path);
}

/// Writes `content` to a temporary file beside `path` and renames it over `path`: what an atomic
/// publication costs, for the "ideal loop with atomic writes" contender.
inline void write_atomically(const char* path, std::string_view content) {
    const std::string temporary = std::string(path) + ".tmp";
    write_all(temporary.c_str(), content);
    if (::rename(temporary.c_str(), path) != 0) throw std::runtime_error(std::string("cannot rename onto ") + path);
}

/// What the `wc` node writes for `data`.
inline std::string wc(std::string_view data) {
    steppar::builtin::WordCounter counter;
    counter.add(data.data(), data.size());
    return counter.json();
}

/// One benchmark node by name ("wc", "burn", "noop") on one file's content.
inline std::string run_node(std::string_view node, std::string_view data, long long rounds) {
    if (node == "wc") return wc(data);
    if (node == "burn") return burn(data, rounds);
    if (node == "noop") return {};
    throw std::invalid_argument("unknown node '" + std::string(node) + "' (wc, burn, noop)");
}

}  // namespace steppar_bench
