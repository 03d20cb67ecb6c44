// ngctl countries: LookupCountries, the GeoIP lookup the dashboard's map uses.
#include <iostream>

#include "commands.h"
#include "output.h"

namespace netguard::ctl {

int RunCountries(Client& client, Format format, const std::vector<std::string>& addresses) {
  v1::LookupCountriesRequest request;
  for (const std::string& a : addresses) request.add_addresses(a);
  v1::LookupCountriesResponse response;
  const grpc::Status s =
      client.stub().LookupCountries(client.UnaryContext().get(), request, &response);
  if (!s.ok()) throw client.Failure(s);
  if (format == Format::kJson) {
    for (const v1::CountryInfo& c : response.countries()) std::cout << ToJsonLine(c) << '\n';
    return kExitOk;
  }
  Table table({"ADDRESS", "COUNTRY", "NAME"});
  for (const v1::CountryInfo& c : response.countries()) {
    table.Add({c.address(),
               c.local()                  ? "local"
               : c.country_code().empty() ? "?"
                                          : c.country_code(),
               c.local() ? "private range" : c.country_name()});
  }
  table.Print(std::cout);
  if (!response.database_error().empty()) {
    std::cerr << "ngctl: GeoIP: " << response.database_error() << '\n';
  }
  if (response.database().empty()) std::cerr << "ngctl: the agent has no GeoIP database open\n";
  return kExitOk;
}

}  // namespace netguard::ctl
