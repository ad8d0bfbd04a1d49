from codeeval.cli.main import main

raise SystemExit(main())
