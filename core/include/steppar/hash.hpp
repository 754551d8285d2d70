// SHA-256 (OpenSSL libcrypto) as lowercase hex, for plan ids and fingerprints.
#pragma once

#include <string>
#include <string_view>

namespace steppar {

std::string sha256_hex(std::string_view data);

}  // namespace steppar
