// SHA-256 (OpenSSL libcrypto) as lowercase hex, for plan ids and fingerprints.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace steppar {

std::string sha256_hex(std::string_view data);

/// SHA-256 fed in pieces, for texts too large to build first (the plan of a million partitions).
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(std::string_view data);
    /// The digest as lowercase hex; call once.
    std::string hex();

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace steppar
