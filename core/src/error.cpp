#include "steppar/error.hpp"

namespace steppar {

namespace {
std::string located(const std::string& file, int line, const std::string& message) {
    std::string out = file;
    if (line > 0) out += ":" + std::to_string(line);
    out += ": ";
    out += message;
    return out;
}
}  // namespace

SpecError::SpecError(const std::string& file, int line, const std::string& message)
    : UserError(located(file, line, message)) {}

}  // namespace steppar
