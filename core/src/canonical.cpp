#include "steppar/canonical.hpp"

#include "canonical_json.hpp"
#include "steppar/error.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace steppar {
namespace {

template <class Number>
void append_number(std::string& out, Number value) {
    std::array<char, 64> text{};
    const auto [end, error] = std::to_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc()) throw std::logic_error("to_chars failed");  // 64 bytes hold any double
    out.append(text.data(), end);
}

void append_count(std::string& out, char tag, std::size_t count) {
    out.push_back(tag);
    append_number(out, count);
    out.push_back(':');
}

// Byte order, as unsigned: whatever order the container kept its keys in.
bool byte_less(const std::string* a, const std::string* b) {
    const int order = std::memcmp(a->data(), b->data(), std::min(a->size(), b->size()));
    return order != 0 ? order < 0 : a->size() < b->size();
}

}  // namespace

void append_canonical_null(std::string& out) { out.push_back('n'); }

void append_canonical_string(std::string& out, std::string_view bytes) {
    append_count(out, 's', bytes.size());
    out.append(bytes);
}

void append_canonical_integer(std::string& out, std::int64_t value) {
    out.push_back('i');
    append_number(out, value);
    out.push_back(';');
}

void append_canonical_list(std::string& out, std::size_t count) { append_count(out, 'l', count); }

void append_canonical_map(std::string& out, std::size_t count) { append_count(out, 'm', count); }

void append_canonical(std::string& out, const nlohmann::json& value) {
    using Type = nlohmann::json::value_t;
    switch (value.type()) {
    case Type::null: append_canonical_null(out); return;
    case Type::boolean: out.push_back(value.get<bool>() ? 't' : 'f'); return;
    case Type::number_integer: append_canonical_integer(out, value.get<std::int64_t>()); return;
    case Type::number_unsigned:  // how nlohmann reads a non-negative integer: the same as a signed one
        out.push_back('i');
        append_number(out, value.get<std::uint64_t>());
        out.push_back(';');
        return;
    case Type::number_float: {
        const double d = value.get<double>();
        out.push_back('d');
        if (std::isnan(d))
            out += "nan";  // one spelling: to_chars would keep the sign bit ("-nan")
        else
            append_number(out, d);  // shortest round trip; "inf", "-inf" when not finite
        out.push_back(';');
        return;
    }
    case Type::string: append_canonical_string(out, value.get_ref<const std::string&>()); return;
    case Type::array:
        append_canonical_list(out, value.size());
        for (const auto& item : value) append_canonical(out, item);
        return;
    case Type::object: {
        std::vector<std::pair<const std::string*, const nlohmann::json*>> members;
        members.reserve(value.size());
        for (auto it = value.begin(); it != value.end(); ++it) members.emplace_back(&it.key(), &it.value());
        std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return byte_less(a.first, b.first); });
        append_canonical_map(out, members.size());
        for (const auto& [key, item] : members) {
            append_canonical_string(out, *key);
            append_canonical(out, *item);
        }
        return;
    }
    case Type::binary:
    case Type::discarded: break;
    }
    throw std::invalid_argument("a value that is not JSON (binary or discarded) has no canonical encoding");
}

void append_canonical_json(std::string& out, std::string_view json_text) {
    nlohmann::json value;
    try {
        value = nlohmann::json::parse(json_text);
    } catch (const nlohmann::json::exception& e) {
        throw InputError("not a JSON value, so it has no canonical encoding (" + std::string(e.what()) + "): '" +
                         std::string(json_text.substr(0, 200)) + "'");
    }
    append_canonical(out, value);
}

std::string canonical_encoding(std::string_view json_text) {
    std::string out;
    append_canonical_json(out, json_text);
    return out;
}

}  // namespace steppar
