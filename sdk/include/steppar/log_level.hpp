/// @file
/// How much a log line matters: one name for the node's ctx.log()/ctx.warn() and for the
/// engine's own messages.
//
// Part of the plugin ABI (sdk.hpp: the contexts' write_log): the values never change, and
// new ones are only added.
#pragma once

#include <cstdint>

namespace steppar {

/// How much a log line matters: info is progress, warning is something to look at.
enum class LogLevel : std::uint32_t {
    info = 1,     ///< shown with --log-format plain/json, not on the live display or with --quiet
    warning = 2,  ///< always shown
    error = 3     ///< the engine's own errors; a node reports one by throwing
};

}  // namespace steppar
