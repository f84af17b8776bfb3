// expect: required expression .+relu_backward\(x, x, y\).+ is invalid
// A backend without the in-place form of relu_backward is not a backend: the static_assert each
// backend's umbrella header makes fails and names the missing operation.
#include "../support/stub_backend.hpp"

using Incomplete = perceptual::testing::stub::Backend<perceptual::testing::stub::Lacks::relu_backward_into>;

static_assert(perceptual::concepts::backend<Incomplete>,
              "Incomplete: a backend must provide every operation that concepts::backend lists.");

int main() {}
