// Named networks compile under nvcc. nvcc 13's front end writes a template argument that names
// another template's class-type parameter into its host code as an undeclared "__T0"; a name
// passed on with layers::detail::pass_name is written as its value. Each line below failed
// before pass_name ("__T0 was not declared in this scope"), so this file compiling is the test;
// the cases also run without a device.
#include <doctest/doctest.h>

#include <string>
#include <type_traits>

#include "perceptual/backend/cuda/cuda.hpp"
#include "perceptual/core/model.hpp"
#include "perceptual/nets/transform.hpp"
#include "perceptual/nets/vgg.hpp"

using namespace perceptual;
using namespace perceptual::layers;

namespace {

// A user's alias template that passes a name on, as Vgg16 and SuperResolutionNet do.
template <layers::detail::FixedString Name>
using NamedRelu = Named<layers::detail::pass_name(Name), ReLU>;

// Any alias whose expansion nvcc must spell out in full (as nets::LossNetwork does).
template <class Net, class B>
using Bound = Model<Net, B>;

static_assert(concepts::layer<nets::SuperResolutionNet<4>> && concepts::layer<nets::SuperResolutionNet<8>>);
static_assert(concepts::layer<Sequential<NamedRelu<"act">, ReLU>>);

}  // namespace

TEST_CASE("networks with names passed on through alias templates compile for the CUDA backend") {
  using Vgg = nets::LossNetwork<nets::JohnsonStyleVgg, Cuda>;
  using Sr = Bound<nets::SuperResolutionNet<8>, Cuda>;
  CHECK(std::is_default_constructible_v<Vgg>);
  CHECK(std::is_default_constructible_v<Sr>);
  CHECK(nets::JohnsonStyleVgg::tap_names()[3] == "relu4_3");
  // Parameter-free, so it needs no device.
  Bound<Sequential<NamedRelu<"first">, NamedRelu<"second">>, Cuda> net;
  CHECK(net.name().find("second:ReLU") != std::string::npos);
}
