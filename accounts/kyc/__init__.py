"""KYC / KYB: verification cases, the provider interface and its implementations, automatic rule checks."""
