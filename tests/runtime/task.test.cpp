#include <catch2/catch.hpp>
#include <troupe/troupe.hpp>
TEST_CASE("placeholder task") { REQUIRE(true); }
