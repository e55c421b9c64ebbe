from tui_denoiser.cli.main import main

raise SystemExit(main())
