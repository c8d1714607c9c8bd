print("celda")
