#include <catch2/catch.hpp>
#include <troupe/troupe.hpp>
TEST_CASE("placeholder scheduler") { REQUIRE(true); }
