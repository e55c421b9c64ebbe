from tui_denoiser.cli import main

raise SystemExit(main())
