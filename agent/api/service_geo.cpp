// NetGuardService::LookupCountries: offline GeoIP for the dashboard's map.
#include "api/service.h"
#include "geo/country_lookup.h"

namespace netguard::api {

namespace {
constexpr int kMaxAddresses = 1000;
}

grpc::Status NetGuardService::LookupCountries(grpc::ServerContext*,
                                              const v1::LookupCountriesRequest* request,
                                              v1::LookupCountriesResponse* response) {
  if (request->addresses_size() > kMaxAddresses) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "addresses: at most " + std::to_string(kMaxAddresses) + " per call, got " +
                            std::to_string(request->addresses_size()));
  }
  if (countries_) {
    response->set_database(countries_->description());
    response->set_database_error(countries_->error());
  }
  for (const std::string& address : request->addresses()) {
    v1::CountryInfo* info = response->add_countries();
    info->set_address(address);
    if (!geo::IsIpAddress(address)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "addresses: '" + address + "' is not an IP address");
    }
    const bool local = geo::IsLocalAddress(address);
    const geo::Country country =
        countries_ ? countries_->Lookup(address)
                   : geo::Country{.code = "", .name = local ? "local" : "", .local = local};
    info->set_country_code(country.code);
    info->set_country_name(country.name);
    info->set_local(country.local);
  }
  return grpc::Status::OK;
}

}  // namespace netguard::api
