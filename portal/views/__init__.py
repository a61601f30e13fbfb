"""Portal views by area: ``public`` (home, prices, verify), ``consumer``, ``participant`` (compliance,
compensation, payments), ``onboarding`` (the wizard), ``aggregator``, ``operator`` (dashboard and dispatch console),
``admin`` (settlement console). Thin: selectors to read, one service per form."""
