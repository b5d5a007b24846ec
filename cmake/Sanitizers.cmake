# AddressSanitizer + UndefinedBehaviorSanitizer for the whole build (CI runs the unit tests so).
if(CN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()
